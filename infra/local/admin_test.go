package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestRunnerServesTheAdminWalkthrough is the README's curl walk-through over HTTP: create a
// webhook, POST a lead, rotate, the old token gets 401 and the new one 201, list, delete.
func TestRunnerServesTheAdminWalkthrough(t *testing.T) {
	s := startRunner(t)
	base, _, _ := strings.Cut(s.URL, "/public/")
	do := func(method, url, token, body string) (int, map[string]any) {
		t.Helper()
		return callJSON(t, method, url, token, body)
	}

	code, created := do("POST", base+"/admin/ingress_webhooks", "",
		fmt.Sprintf(`{"organizationId":%q,"tableId":%q,"name":"Zapier"}`, s.OrganizationID, s.PoolID))
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, created)
	}
	url, _ := created["url"].(string)
	id, _ := created["id"].(string)
	oldToken, _ := created["token"].(string)
	if url != base+"/public/ingress_webhooks/"+id {
		t.Errorf("url = %q; want %s/public/ingress_webhooks/%s", url, base, id)
	}
	lead := `{"data":{"email":"ada@example.com"}}`
	if code, body := do("POST", url, oldToken, lead); code != http.StatusCreated {
		t.Fatalf("POST with the new webhook's token: %d %v", code, body)
	}
	code, rotated := do("POST", base+"/admin/ingress_webhooks/"+id+"/rotate", "", "")
	if code != http.StatusOK {
		t.Fatalf("rotate: %d %v", code, rotated)
	}
	newToken, _ := rotated["token"].(string)
	steps := []struct {
		name  string
		token string
		want  int
	}{
		{"old token after rotation", oldToken, http.StatusUnauthorized},
		{"new token after rotation", newToken, http.StatusCreated},
	}
	for _, st := range steps {
		if code, body := do("POST", url, st.token, lead); code != st.want {
			t.Errorf("%s: %d %v; want %d", st.name, code, body, st.want)
		}
	}
	code, list := do("GET", base+"/admin/ingress_webhooks?organizationId="+s.OrganizationID, "", "")
	if code != http.StatusOK || len(list["webhooks"].([]any)) != 2 {
		t.Errorf("list: %d %v; want the seeded and the created webhook", code, list)
	}
	if code, body := do("DELETE", base+"/admin/ingress_webhooks/"+id, "", ""); code != http.StatusNoContent {
		t.Errorf("delete: %d %v; want 204", code, body)
	}
	if code, _ := do("POST", url, newToken, lead); code != http.StatusNotFound {
		t.Errorf("POST after delete: %d; want 404", code)
	}
}
