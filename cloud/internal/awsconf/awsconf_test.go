package awsconf

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	base := aws.Config{Region: "us-east-1"}
	tests := []struct {
		name   string
		base   *aws.Config
		region string
		want   string
	}{
		{"base kept", &base, "", "us-east-1"},
		{"region overrides base", &base, "eu-west-2", "eu-west-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Load(context.Background(), tt.base, tt.region)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got.Region != tt.want {
				t.Errorf("Region = %q, want %q", got.Region, tt.want)
			}
		})
	}
	if base.Region != "us-east-1" {
		t.Errorf("Load changed the caller's configuration: Region = %q", base.Region)
	}
}

func TestLoadDefaultChainRegionFromEnvironment(t *testing.T) {
	t.Setenv("AWS_REGION", "ca-central-1")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	got, err := Load(context.Background(), nil, "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.Region != "ca-central-1" {
		t.Errorf("Region = %q, want the environment's ca-central-1", got.Region)
	}
}
