// Package awsconf builds the AWS SDK configuration the cloud's AWS clients
// (Secrets Manager, KMS) share: the SDK's default chain (task role
// credentials, region from the environment) unless a configuration is
// given, then an optional region override.
package awsconf

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// Load returns base (when not nil) or the SDK's default configuration,
// with Region replaced when region is not empty. It makes no network call.
func Load(ctx context.Context, base *aws.Config, region string) (aws.Config, error) {
	var cfg aws.Config
	if base != nil {
		cfg = *base
	} else {
		var err error
		if cfg, err = awsconfig.LoadDefaultConfig(ctx); err != nil {
			return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
		}
	}
	if region != "" {
		cfg.Region = region
	}
	return cfg, nil
}
