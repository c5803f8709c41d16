package samtemplate_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	trivyIgnoreFile   = repoRoot + "/infra/checks/trivyignore.yaml"
	cfnLintRulesFile  = repoRoot + "/infra/checks/cfn-lint-rules.txt"
	minStatementWords = 12
)

// TestEveryTrivySuppressionSaysWhy: each entry of the ignore file names a check and the
// reason it does not apply, in words a reviewer can check.
func TestEveryTrivySuppressionSaysWhy(t *testing.T) {
	b, err := os.ReadFile(trivyIgnoreFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Misconfigurations []struct {
			ID        string   `yaml:"id"`
			Paths     []string `yaml:"paths"`
			Statement string   `yaml:"statement"`
		} `yaml:"misconfigurations"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", trivyIgnoreFile, err)
	}
	for _, m := range f.Misconfigurations {
		if !strings.HasPrefix(m.ID, "AWS-") {
			t.Errorf("suppression %q: want a Trivy check id AWS-NNNN", m.ID)
		}
		if len(strings.Fields(m.Statement)) < minStatementWords {
			t.Errorf("suppression %s: statement %q does not say why it does not apply", m.ID, m.Statement)
		}
		if len(m.Paths) == 0 {
			t.Errorf("suppression %s: no paths; limit it to template.yaml", m.ID)
		}
	}
}

// TestCfnLintCustomRuleRefusesTheAWSManagedSNSKey runs cfn-lint with the project's custom
// rules on a topic encrypted with alias/aws/sns (refused) and on one with a template key
// (accepted). Skipped without cfn-lint, except under CI=true.
func TestCfnLintCustomRuleRefusesTheAWSManagedSNSKey(t *testing.T) {
	if _, err := exec.LookPath("cfn-lint"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("cfn-lint is not installed (CI=true)")
		}
		t.Skip("cfn-lint is not installed")
	}
	tpl := func(key string) string {
		return `AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      EnableKeyRotation: true
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
            Action: "kms:*"
            Resource: "*"
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      KmsMasterKeyId: ` + key + "\n"
	}
	dir := t.TempDir()
	for _, c := range []struct {
		key     string
		refused bool
	}{{"alias/aws/sns", true}, {"!Ref Key", false}} {
		path := filepath.Join(dir, "t.yaml")
		if err := os.WriteFile(path, []byte(tpl(c.key)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("cfn-lint", "--custom-rules", cfnLintRulesFile, path).CombinedOutput()
		var exit *exec.ExitError
		refused := errors.As(err, &exit) && strings.Contains(string(out), "E9001")
		if err != nil && !refused {
			t.Fatalf("cfn-lint on KmsMasterKeyId %s: %v\n%s", c.key, err, out)
		}
		if refused != c.refused {
			t.Errorf("cfn-lint on KmsMasterKeyId %s: refused = %v; want %v\n%s", c.key, refused, c.refused, out)
		}
	}
}
