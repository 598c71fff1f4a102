package tesscmd_test

import (
	"errors"
	"image"
	"testing"

	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/desktop/internal/ocr/ocrtest"
	"healthprep.dev/desktop/internal/ocr/tesscmd"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	ocrtest.Run(t, func(t *testing.T) ocr.Engine {
		e, err := tesscmd.New(tesscmd.Config{})
		if err != nil {
			t.Fatalf("tesscmd.New: %v (install tesseract-ocr tesseract-ocr-eng)", err)
		}
		return e
	})
}

func TestNewMissingExecutable(t *testing.T) {
	t.Parallel()
	_, err := tesscmd.New(tesscmd.Config{Path: "/nonexistent/tesseract"})
	if !errors.Is(err, tesscmd.ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}

func TestParseTSV(t *testing.T) {
	t.Parallel()
	const tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n" +
		"1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n" +
		"5\t1\t1\t1\t1\t1\t10\t10\t20\t10\t96.5\tHello\n" +
		"5\t1\t1\t1\t1\t2\t35\t10\t20\t10\t91\tworld\n" +
		"5\t1\t1\t1\t1\t3\t60\t10\t5\t10\t95\t \n" +
		"5\t1\t2\t1\t1\t1\t90\t50\t30\t10\t40\tedge\n"
	tests := []struct {
		name    string
		in      string
		want    []ocr.Word
		wantErr bool
	}{
		{name: "words, lines, blocks and clipping", in: tsv, want: []ocr.Word{
			{Text: "Hello", Box: image.Rect(10, 10, 30, 20), Confidence: 96.5, Line: 1, Block: 1},
			{Text: "world", Box: image.Rect(35, 10, 55, 20), Confidence: 91, Line: 1, Block: 1},
			{Text: "edge", Box: image.Rect(90, 50, 100, 60), Confidence: 40, Line: 2, Block: 2},
		}},
		{name: "empty output", in: "", want: nil},
		{name: "garbage number", in: "5\t1\tx\t1\t1\t1\t1\t1\t1\t1\t90\tw\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tesscmd.ParseTSV([]byte(tt.in), image.Rect(0, 0, 100, 100))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d words %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("word %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
