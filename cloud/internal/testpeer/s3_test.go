package testpeer

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestS3StoresVersionsAndStops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := NewS3(t)
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(srv.URL),
		Region:       srv.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		UsePathStyle: true,
	})
	bucket := aws.String("archives")
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket, ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatalf("PutBucketVersioning: %v", err)
	}
	for _, body := range []string{"first", "second"} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("a/b.txt"), Body: bytes.NewReader([]byte(body))}); err != nil {
			t.Fatalf("PutObject %q: %v", body, err)
		}
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("a/b.txt")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(got) != "second" {
		t.Errorf("GetObject = %q, want %q", got, "second")
	}
	vs, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: bucket})
	if err != nil {
		t.Fatalf("ListObjectVersions: %v", err)
	}
	if len(vs.Versions) != 2 {
		t.Errorf("ListObjectVersions: %d versions, want 2", len(vs.Versions))
	}

	wrong := s3.New(s3.Options{BaseEndpoint: aws.String(srv.URL), Region: srv.Region, UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, "wrong-secret", "")})
	if _, err := wrong.ListBuckets(ctx, &s3.ListBucketsInput{}); err == nil {
		t.Error("ListBuckets with a wrong secret succeeded, want SignatureDoesNotMatch")
	}
	assertStopped(t, srv.Process)
}
