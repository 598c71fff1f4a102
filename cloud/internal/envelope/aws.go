package envelope

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"healthprep.dev/cloud/internal/awsconf"
)

// AWSOptions configure AWSKMS.
type AWSOptions struct {
	// KeyID names the KMS key that wraps data keys (key id, ARN or alias).
	KeyID string
	// Region overrides the SDK's region resolution.
	Region string
	// Endpoint overrides the service endpoint (VPC endpoints, tests).
	Endpoint string
	// Config, when set, replaces the SDK's default chain (task role
	// credentials, region from the environment).
	Config *aws.Config
}

// AWSKMS is the production KMS: data keys from GenerateDataKey (AES_256)
// and unwrapped with Decrypt, both bound to the encryption context.
type AWSKMS struct {
	client *kms.Client
	keyID  string
}

// NewAWSKMS builds the client. It makes no network call.
func NewAWSKMS(ctx context.Context, o AWSOptions) (*AWSKMS, error) {
	if o.KeyID == "" {
		return nil, errors.New("envelope: AWS KMS needs a key id")
	}
	cfg, err := awsconf.Load(ctx, o.Config, o.Region)
	if err != nil {
		return nil, err
	}
	client := kms.NewFromConfig(cfg, func(opt *kms.Options) {
		if o.Endpoint != "" {
			opt.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	return &AWSKMS{client: client, keyID: o.KeyID}, nil
}

// GenerateDataKey implements KMS.
func (a *AWSKMS) GenerateDataKey(ctx context.Context, keyContext map[string]string) ([]byte, []byte, string, error) {
	out, err := a.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(a.keyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: keyContext,
	})
	if err != nil {
		return nil, nil, "", fmt.Errorf("envelope: KMS GenerateDataKey: %w", err)
	}
	if len(out.Plaintext) != DataKeySize || len(out.CiphertextBlob) == 0 {
		return nil, nil, "", fmt.Errorf("envelope: KMS GenerateDataKey returned a %d-byte key; want %d", len(out.Plaintext), DataKeySize)
	}
	kek := aws.ToString(out.KeyId)
	if kek == "" {
		kek = a.keyID
	}
	return out.Plaintext, out.CiphertextBlob, kek, nil
}

// Decrypt implements KMS. A wrapped key that KMS refuses (tampered, wrong
// context) is ErrUnwrap; a transport or permission failure is returned
// wrapped, so callers can tell "retry" from "never".
func (a *AWSKMS) Decrypt(ctx context.Context, wrapped []byte, keyContext map[string]string) ([]byte, error) {
	out, err := a.client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    wrapped,
		EncryptionContext: keyContext,
		KeyId:             aws.String(a.keyID),
	})
	var invalid *types.InvalidCiphertextException
	var incorrect *types.IncorrectKeyException
	if errors.As(err, &invalid) || errors.As(err, &incorrect) {
		return nil, ErrUnwrap
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: KMS Decrypt: %w", err)
	}
	if len(out.Plaintext) != DataKeySize {
		return nil, ErrUnwrap
	}
	return out.Plaintext, nil
}
