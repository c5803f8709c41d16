package localaws

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

const secretARNPrefix = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"

func (s *Server) serveSecretsManager(w http.ResponseWriter, r *http.Request, op string) {
	if op != "GetSecretValue" {
		s.logger.Warn("localaws: unsupported secretsmanager operation", "op", op)
		writeAWSError(w, secretsManagerContentType, http.StatusBadRequest, "UnknownOperationException", "")
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

	arn, name := key, key
	if strings.HasPrefix(key, "arn:") {
		if i := strings.Index(key, ":secret:"); i >= 0 {
			name = key[i+len(":secret:"):]
		}
	} else {
		arn = secretARNPrefix + key
	}
	writeJSON(w, secretsManagerContentType, http.StatusOK, struct {
		ARN           string   `json:"ARN"`
		Name          string   `json:"Name"`
		SecretString  string   `json:"SecretString"`
		VersionID     string   `json:"VersionId"`
		VersionStages []string `json:"VersionStages"`
		CreatedDate   int64    `json:"CreatedDate"`
	}{
		ARN:          arn,
		Name:         name,
		SecretString: value,
		// Stable per secret value, so a caller can tell a changed secret from a re-read.
		VersionID:     uuid.NewSHA1(uuid.NameSpaceOID, []byte(key+"\x00"+value)).String(),
		VersionStages: []string{"AWSCURRENT"},
		CreatedDate:   s.created.Unix(),
	})
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
