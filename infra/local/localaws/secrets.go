package localaws

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
)

const secretARNPrefix = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"

func (s *Server) serveSecretsManager(w http.ResponseWriter, r *http.Request, op string) {
	switch op {
	case "GetSecretValue", "DescribeSecret":
	case "ListSecrets":
		s.listSecrets(w)
		return
	default:
		s.logger.Warn("localaws: unsupported secretsmanager operation", "op", op)
		writeAWSError(w, secretsManagerContentType, http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("operation %s is not supported locally", op))
		return
	}
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&in); err != nil || in.SecretID == "" {
		writeAWSError(w, secretsManagerContentType, http.StatusBadRequest, "InvalidParameterException",
			"You must provide a SecretId.")
		return
	}

	key, value, ok := s.lookupSecret(in.SecretID)
	if !ok {
		s.logger.Debug("localaws: secretsmanager", "op", op, "found", false)
		writeAWSError(w, secretsManagerContentType, http.StatusBadRequest, "ResourceNotFoundException",
			"Secrets Manager can't find the specified secret.")
		return
	}
	s.logger.Debug("localaws: secretsmanager", "op", op, "found", true)

	meta := s.secretMetadata(key, value)
	if op == "DescribeSecret" {
		writeJSON(w, secretsManagerContentType, http.StatusOK, meta)
		return
	}
	writeJSON(w, secretsManagerContentType, http.StatusOK, struct {
		ARN           string   `json:"ARN"`
		Name          string   `json:"Name"`
		SecretString  string   `json:"SecretString"`
		VersionID     string   `json:"VersionId"`
		VersionStages []string `json:"VersionStages"`
		CreatedDate   int64    `json:"CreatedDate"`
	}{
		ARN:           meta.ARN,
		Name:          meta.Name,
		SecretString:  value,
		VersionID:     meta.versionID,
		VersionStages: []string{"AWSCURRENT"},
		CreatedDate:   meta.CreatedDate,
	})
}

// secretMetadata is a secret as DescribeSecret and ListSecrets report it: never its value.
type secretMetadata struct {
	ARN                    string              `json:"ARN"`
	Name                   string              `json:"Name"`
	CreatedDate            int64               `json:"CreatedDate"`
	LastChangedDate        int64               `json:"LastChangedDate"`
	SecretVersionsToStages map[string][]string `json:"SecretVersionsToStages,omitempty"`
	VersionIdsToStages     map[string][]string `json:"VersionIdsToStages,omitempty"`
	versionID              string
}

// secretMetadata describes the secret configured under key (a name or an ARN).
func (s *Server) secretMetadata(key, value string) secretMetadata {
	arn, name := key, key
	if strings.HasPrefix(key, "arn:") {
		if i := strings.Index(key, ":secret:"); i >= 0 {
			name = key[i+len(":secret:"):]
		}
	} else {
		arn = secretARNPrefix + key
	}
	// Stable per secret value, so a caller can tell a changed secret from a re-read.
	version := uuid.NewSHA1(uuid.NameSpaceOID, []byte(key+"\x00"+value)).String()
	return secretMetadata{
		ARN:                arn,
		Name:               name,
		CreatedDate:        s.created.Unix(),
		LastChangedDate:    s.created.Unix(),
		VersionIdsToStages: map[string][]string{version: {"AWSCURRENT"}},
		versionID:          version,
	}
}

// listSecrets answers ListSecrets with every configured secret, in name order, in one page.
func (s *Server) listSecrets(w http.ResponseWriter) {
	list := make([]secretMetadata, 0, len(s.secrets))
	for key, value := range s.secrets {
		m := s.secretMetadata(key, value)
		m.SecretVersionsToStages, m.VersionIdsToStages = m.VersionIdsToStages, nil
		list = append(list, m)
	}
	slices.SortFunc(list, func(a, b secretMetadata) int { return strings.Compare(a.Name, b.Name) })
	s.logger.Debug("localaws: secretsmanager", "op", "ListSecrets", "count", len(list))
	writeJSON(w, secretsManagerContentType, http.StatusOK, map[string]any{"SecretList": list})
}

// lookupSecret finds a secret by the exact id or ARN it was configured under, or, for an ARN
// request, by the name the ARN carries.
func (s *Server) lookupSecret(id string) (key, value string, ok bool) {
	if v, ok := s.secrets[id]; ok {
		return id, v, true
	}
	if i := strings.Index(id, ":secret:"); strings.HasPrefix(id, "arn:") && i >= 0 {
		name := id[i+len(":secret:"):]
		if v, ok := s.secrets[name]; ok {
			return name, v, true
		}
	}
	return "", "", false
}
