package mail

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// SESConfig configures sending through Amazon SES's v2 API.
type SESConfig struct {
	// From is the verified sender, e.g. "HealthPrep <no-reply@example.org>".
	From string
	// Region is the AWS region of the SES endpoint, e.g. "us-east-1".
	Region string
	// Endpoint replaces the regional endpoint (a local SES server in tests
	// and development); empty means AWS.
	Endpoint string
	// AccessKeyID and SecretAccessKey are static credentials; when both are
	// empty the SDK's default chain (environment, task role, ...) is used.
	AccessKeyID, SecretAccessKey string
	// ConfigurationSet is an optional SES configuration set name.
	ConfigurationSet string
	// MaxAttempts bounds the SDK's retries; 0 keeps its default (3).
	MaxAttempts int
}

// SES sends Messages with the SES v2 SendEmail call.
type SES struct {
	client *sesv2.Client
	from   string
	cfgSet string
}

// NewSES checks cfg and builds an SES sender. It makes no network call.
func NewSES(ctx context.Context, cfg SESConfig) (*SES, error) {
	from, err := parseAddress("sender", cfg.From)
	if err != nil {
		return nil, fmt.Errorf("configuring SES mail: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("configuring SES mail: region is empty")
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errors.New("configuring SES mail: give both the access key ID and the secret access key, or neither")
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region)}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("configuring SES mail: loading AWS configuration: %w", err)
	}
	client := sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if cfg.MaxAttempts > 0 {
			o.RetryMaxAttempts = cfg.MaxAttempts
		}
	})
	return &SES{client: client, from: formatAddress(from), cfgSet: cfg.ConfigurationSet}, nil
}

// Send validates m and sends it. SES builds the MIME message itself.
func (s *SES) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("sending mail: %w", err)
	}
	to, _ := parseAddress("recipient", m.To)
	body := &types.Body{}
	if m.Text != "" {
		body.Text = &types.Content{Data: aws.String(m.Text), Charset: aws.String("UTF-8")}
	}
	if m.HTML != "" {
		body.Html = &types.Content{Data: aws.String(m.HTML), Charset: aws.String("UTF-8")}
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.from),
		Destination:      &types.Destination{ToAddresses: []string{formatAddress(to)}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(m.Subject), Charset: aws.String("UTF-8")},
			Body:    body,
		}},
	}
	if s.cfgSet != "" {
		in.ConfigurationSetName = aws.String(s.cfgSet)
	}
	if _, err := s.client.SendEmail(ctx, in); err != nil {
		return fmt.Errorf("sending mail through SES: %w", err)
	}
	return nil
}
