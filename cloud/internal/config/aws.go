package config

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"healthprep.dev/cloud/internal/awsconf"
)

// AWSOptions configure the Secrets Manager provider.
type AWSOptions struct {
	// Prefix is put before the variable name to form the secret id.
	Prefix string
	// Region overrides the SDK's default region resolution.
	Region string
	// Endpoint overrides the service endpoint (VPC endpoints, tests).
	Endpoint string
	// Config, when set, is used instead of the SDK's default chain
	// (credentials from the task role, region from the environment).
	Config *aws.Config
}

// AWS reads secrets from AWS Secrets Manager.
type AWS struct {
	client *secretsmanager.Client
	prefix string
}

// NewAWS builds the provider. It makes no network call.
func NewAWS(ctx context.Context, o AWSOptions) (*AWS, error) {
	cfg, err := awsconf.Load(ctx, o.Config, o.Region)
	if err != nil {
		return nil, err
	}
	client := secretsmanager.NewFromConfig(cfg, func(opt *secretsmanager.Options) {
		if o.Endpoint != "" {
			opt.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	return &AWS{client: client, prefix: o.Prefix}, nil
}

// Secret implements Provider: the current version of secret prefix+name,
// as a string.
func (a *AWS) Secret(ctx context.Context, name string) (string, error) {
	out, err := a.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(a.prefix + name)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", ErrSecretMissing
	}
	if err != nil {
		return "", fmt.Errorf("reading secret %s%s: %w", a.prefix, name, err)
	}
	if out.SecretString == nil || *out.SecretString == "" {
		return "", ErrSecretMissing
	}
	return *out.SecretString, nil
}
