package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// Defaults that match the local runner (infra/local).
const (
	localTable    = "rocketlead-local"
	localSecretID = "rocketlead/local/token-key"
	localBaseURL  = "http://127.0.0.1:3000"
	defaultRegion = "us-east-1"
)

// command runs one noun-verb pair with its remaining arguments.
type command func(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error

// commands maps "noun verb" to its implementation.
var commands = map[string]command{
	"pool create":            poolCreate,
	"pool get":               poolGet,
	"lead-state add":         leadStateAdd,
	"lead-state list":        leadStateList,
	"lead-state set-default": leadStateSetDefault,
	"lead-state delete":      leadStateDelete,
	"custom-field create":    customFieldCreate,
	"custom-field list":      customFieldList,
	"custom-field delete":    customFieldDelete,
	"webhook create":         webhookCreate,
	"webhook rotate":         webhookRotate,
	"webhook list":           webhookList,
	"webhook delete":         webhookDelete,
	"webhook set":            webhookSet,
	"webhook signing-secret": webhookSigningSecret,
	"schema show":            schemaShow,
	"schema set":             schemaSet,
	"schema unlock":          schemaUnlock,
	"rejected list":          rejectedList,
	"rejected show":          rejectedShow,
	"rejected replay":        rejectedReplay,
	"rejected discard":       rejectedDiscard,
	"events redrive":         eventsRedrive,
}

// common holds the flags every command takes.
type common struct {
	endpoint, tableName, secretID, baseURL string
	json                                   bool
}

// session is a parsed command line with its AWS configuration.
type session struct {
	common
	cfg aws.Config
	out io.Writer
}

// parse registers the common flags on fs, parses args, checks that the named command flags
// are set and loads the AWS configuration.
func parse(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer, getenv func(string) string, required ...string) (*session, error) {
	s := &session{out: out}
	fs.StringVar(&s.endpoint, "endpoint", "", "AWS endpoint URL (the local runner: http://127.0.0.1:4566)")
	fs.StringVar(&s.tableName, "table-name", "", "DynamoDB table name")
	fs.StringVar(&s.secretID, "secret-id", "", "Secrets Manager id of the token key")
	fs.StringVar(&s.baseURL, "base-url", "", "base of printed webhook URLs")
	fs.BoolVar(&s.json, "json", false, "print JSON")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return nil, usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	if err := checkRequired(fs, required); err != nil {
		return nil, err
	}
	local := s.endpoint != ""
	s.tableName = firstOf(s.tableName, getenv("TABLE_NAME"), ifLocal(local, localTable))
	s.secretID = firstOf(s.secretID, getenv("TOKEN_KEY_SECRET_ID"), ifLocal(local, localSecretID))
	s.baseURL = firstOf(s.baseURL, getenv("PUBLIC_BASE_URL"))
	if s.baseURL == "" && local {
		s.baseURL = runnerBaseURL(ctx, s.endpoint)
	}
	if s.tableName == "" {
		return nil, usageError{fmt.Sprintf("%s: no table: pass --table-name or set TABLE_NAME", fs.Name())}
	}

	var opts []func(*config.LoadOptions) error
	if local {
		opts = append(opts, config.WithBaseEndpoint(s.endpoint))
		if getenv("AWS_ACCESS_KEY_ID") == "" && getenv("AWS_PROFILE") == "" {
			// The local endpoints accept any signature; do not make users invent keys.
			opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	s.cfg = cfg
	return s, nil
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func ifLocal(local bool, v string) string {
	if local {
		return v
	}
	return ""
}

func (s *session) env() app.Env {
	return app.Env{TableName: s.tableName, TokenKeySecretID: s.secretID}
}

func (s *session) catalog() *lead.Catalog {
	return lead.NewCatalog(dynamo.New(dynamodb.NewFromConfig(s.cfg), s.tableName))
}

// webhooks returns the webhook admin service; withKey reads the token key (create, rotate).
func (s *session) webhooks(ctx context.Context, withKey bool) (*lead.WebhookAdmin, error) {
	if withKey && s.secretID == "" {
		return nil, usageError{"no token key secret: pass --secret-id or set TOKEN_KEY_SECRET_ID"}
	}
	return app.WebhookAdmin(ctx, s.cfg, s.env(), withKey)
}

func (s *session) url(id string) string {
	if s.baseURL == "" {
		return ""
	}
	return strings.TrimRight(s.baseURL, "/") + apigw.PublicPath(id)
}

// print writes v as JSON with --json, or the table rows (a header first) otherwise.
func (s *session) print(v any, rows [][]string) error {
	if s.json {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// checkRequired fails with a usage error naming every flag of names left empty.
func checkRequired(fs *flag.FlagSet, names []string) error {
	var missing []string
	for _, name := range names {
		if f := fs.Lookup(name); f == nil || f.Value.String() == "" {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return usageError{fmt.Sprintf("%s: missing %s", fs.Name(), strings.Join(missing, ", "))}
	}
	return nil
}

// describe renders an error for the terminal: an application error with its details, any
// other error as is (operators need the SDK's message; it never holds a token).
func describe(err error) string {
	var e *lead.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString(e.Reason)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for _, d := range e.Details {
		fmt.Fprintf(&b, "\n  %s: %s", d.Path, d.Problem)
	}
	return b.String()
}

// poolView is a pool as the CLI prints it.
type poolView struct {
	ID                 string            `json:"id"`
	OrganizationID     string            `json:"organizationId"`
	Name               string            `json:"name"`
	DefaultLeadStateID string            `json:"defaultLeadStateId"`
	LeadStateIDs       []string          `json:"leadStateIds"`
	Schema             map[string]string `json:"schema"`
}

func viewPool(p *lead.Pool) poolView {
	v := poolView{ID: p.ID, OrganizationID: p.OrganizationID, Name: p.Name, DefaultLeadStateID: p.DefaultLeadStateID,
		LeadStateIDs: append([]string{}, p.LeadStateIDs...), Schema: map[string]string{}}
	for k, t := range p.Schema {
		v.Schema[k] = string(t)
	}
	return v
}

type leadStateView struct {
	ID      string `json:"id"`
	PoolID  string `json:"tableId"`
	Name    string `json:"name"`
	Default bool   `json:"default"`
}

type customFieldView struct {
	ID             string   `json:"id"`
	OrganizationID string   `json:"organizationId"`
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	Options        []string `json:"options,omitempty"`
}

func viewField(f lead.CustomField) customFieldView {
	return customFieldView{ID: f.ID, OrganizationID: f.OrganizationID, Name: f.Name, Type: string(f.Type), Options: f.Options}
}

func poolCreate(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	org := fs.String("org", "", "organization id")
	poolName := fs.String("name", "", "pool name")
	state := fs.String("lead-state", "New", "name of the first lead state, the default")
	s, err := parse(ctx, fs, args, out, getenv, "org", "name")
	if err != nil {
		return err
	}
	p, st, err := s.catalog().CreatePool(ctx, lead.CreatePoolInput{OrganizationID: *org, Name: *poolName, LeadStateName: *state})
	if err != nil {
		return err
	}
	return s.print(struct {
		Pool  poolView      `json:"pool"`
		State leadStateView `json:"leadState"`
	}{viewPool(p), leadStateView{ID: st.ID, PoolID: p.ID, Name: st.Name, Default: true}},
		[][]string{{"POOL ID", "ORGANIZATION", "NAME", "DEFAULT LEAD STATE"}, {p.ID, p.OrganizationID, p.Name, st.ID + " (" + st.Name + ")"}})
}

func poolGet(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	pool := fs.String("pool", "", "pool id (the API's tableId)")
	s, err := parse(ctx, fs, args, out, getenv, "pool")
	if err != nil {
		return err
	}
	p, err := s.catalog().Pool(ctx, *pool)
	if err != nil {
		return err
	}
	v := viewPool(p)
	rows := [][]string{{"POOL ID", "ORGANIZATION", "NAME", "DEFAULT LEAD STATE", "LEAD STATES", "SCHEMA KEYS"},
		{v.ID, v.OrganizationID, v.Name, v.DefaultLeadStateID, fmt.Sprint(len(v.LeadStateIDs)), fmt.Sprint(len(v.Schema))}}
	return s.print(v, rows)
}

func leadStateAdd(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	pool := fs.String("pool", "", "pool id (the API's tableId)")
	stateName := fs.String("name", "", "lead state name")
	s, err := parse(ctx, fs, args, out, getenv, "pool", "name")
	if err != nil {
		return err
	}
	st, err := s.catalog().AddLeadState(ctx, *pool, *stateName)
	if err != nil {
		return err
	}
	v := leadStateView{ID: st.ID, PoolID: st.PoolID, Name: st.Name}
	return s.print(v, [][]string{{"ID", "NAME", "POOL ID"}, {v.ID, v.Name, v.PoolID}})
}

func leadStateList(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	pool := fs.String("pool", "", "pool id (the API's tableId)")
	s, err := parse(ctx, fs, args, out, getenv, "pool")
	if err != nil {
		return err
	}
	p, states, err := s.catalog().ListLeadStates(ctx, *pool)
	if err != nil {
		return err
	}
	views := make([]leadStateView, 0, len(states))
	rows := [][]string{{"ID", "NAME", "DEFAULT"}}
	for _, st := range states {
		v := leadStateView{ID: st.ID, PoolID: p.ID, Name: st.Name, Default: st.ID == p.DefaultLeadStateID}
		views = append(views, v)
		def := ""
		if v.Default {
			def = "yes"
		}
		rows = append(rows, []string{v.ID, v.Name, def})
	}
	return s.print(views, rows)
}

func leadStateSetDefault(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	return leadStateChange(ctx, name, args, out, getenv, (*lead.Catalog).SetDefaultLeadState, "default")
}

func leadStateDelete(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	return leadStateChange(ctx, name, args, out, getenv, (*lead.Catalog).DeleteLeadState, "deleted")
}

func leadStateChange(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string,
	change func(*lead.Catalog, context.Context, string, string) error, outcome string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	pool := fs.String("pool", "", "pool id (the API's tableId)")
	id := fs.String("id", "", "lead state id")
	s, err := parse(ctx, fs, args, out, getenv, "pool", "id")
	if err != nil {
		return err
	}
	if err := change(s.catalog(), ctx, *pool, *id); err != nil {
		return err
	}
	res := map[string]string{"tableId": strings.ToLower(*pool), "leadStateId": strings.ToLower(*id), "result": outcome}
	return s.print(res, [][]string{{"POOL ID", "LEAD STATE", "RESULT"}, {res["tableId"], res["leadStateId"], outcome}})
}

func customFieldCreate(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	org := fs.String("org", "", "organization id")
	fieldName := fs.String("name", "", "field name")
	typ := fs.String("type", "", "text, number, boolean, date, select or multiselect")
	options := fs.String("options", "", "comma-separated options of a select or multiselect field")
	s, err := parse(ctx, fs, args, out, getenv, "org", "name", "type")
	if err != nil {
		return err
	}
	var opts []string
	if *options != "" {
		for _, o := range strings.Split(*options, ",") {
			opts = append(opts, strings.TrimSpace(o))
		}
	}
	f, err := s.catalog().CreateCustomField(ctx, lead.CreateCustomFieldInput{OrganizationID: *org, Name: *fieldName,
		Type: lead.CustomFieldType(*typ), Options: opts})
	if err != nil {
		return err
	}
	v := viewField(*f)
	return s.print(v, [][]string{{"ID", "NAME", "TYPE", "OPTIONS"}, {v.ID, v.Name, v.Type, strings.Join(v.Options, ", ")}})
}

func customFieldList(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	org := fs.String("org", "", "organization id")
	s, err := parse(ctx, fs, args, out, getenv, "org")
	if err != nil {
		return err
	}
	fields, err := s.catalog().ListCustomFields(ctx, *org)
	if err != nil {
		return err
	}
	views := make([]customFieldView, 0, len(fields))
	rows := [][]string{{"ID", "NAME", "TYPE", "OPTIONS"}}
	for _, f := range fields {
		v := viewField(f)
		views = append(views, v)
		rows = append(rows, []string{v.ID, v.Name, v.Type, strings.Join(v.Options, ", ")})
	}
	return s.print(views, rows)
}

func customFieldDelete(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	org := fs.String("org", "", "organization id")
	id := fs.String("id", "", "custom field id")
	s, err := parse(ctx, fs, args, out, getenv, "org", "id")
	if err != nil {
		return err
	}
	if err := s.catalog().DeleteCustomField(ctx, *org, *id); err != nil {
		return err
	}
	res := map[string]string{"id": strings.ToLower(*id), "result": "deleted"}
	return s.print(res, [][]string{{"ID", "RESULT"}, {res["id"], "deleted"}})
}

func webhookCreate(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	org := fs.String("org", "", "organization id")
	pool := fs.String("pool", "", "pool id (the API's tableId)")
	hookName := fs.String("name", "", "webhook name")
	allowQuery := fs.Bool("allow-query-token", false, "also accept the token as ?token= (for senders that cannot set a header)")
	src := sourceFlags(fs)
	ff := formFlags(fs)
	rf := rateFlags(fs)
	s, err := parse(ctx, fs, args, out, getenv, "org", "pool", "name")
	if err != nil {
		return err
	}
	in := lead.CreateWebhookInput{OrganizationID: *org, PoolID: *pool, Name: *hookName, AllowQueryToken: *allowQuery}
	if in.SourceInput, err = src.input(fs, name); err != nil {
		return err
	}
	if in.RateInput, err = rf.input(name); err != nil {
		return err
	}
	if in.Form, _, err = ff.input(name, getenv); err != nil {
		return err
	}
	svc, err := s.webhooks(ctx, true)
	if err != nil {
		return err
	}
	c, err := svc.Create(ctx, in)
	if err != nil {
		return err
	}
	c.URL = s.url(c.ID)
	rows := [][]string{{"ID", "NAME", "SOURCE", "RATE", "URL", "TOKEN (shown once)"}, {c.ID, c.Name, c.Source, rateCell(c.WebhookSummary), c.URL, c.Token}}
	return s.print(wire.ViewCreatedWebhook(c), withSecret(withQueryTokenWarning(rows, c.QueryTokenWarning), c.GeneratedSigningSecret))
}

// withQueryTokenWarning adds the warning of a webhook that accepts ?token= under a table.
func withQueryTokenWarning(rows [][]string, warning string) [][]string {
	return withNote(rows, "WARNING: ", warning)
}

// withNote adds label and text as a last row under a table, after an empty one; nothing
// when text is empty.
func withNote(rows [][]string, label, text string) [][]string {
	if text == "" {
		return rows
	}
	return append(rows, []string{}, []string{label + text})
}

func webhookSet(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	id := fs.String("id", "", "webhook id")
	allowQuery := fs.String("allow-query-token", "", "true: also accept the token as ?token=; false: only the header")
	src := sourceFlags(fs)
	ff := formFlags(fs)
	rf := rateFlags(fs)
	s, err := parse(ctx, fs, args, out, getenv, "id")
	if err != nil {
		return err
	}
	in := lead.UpdateWebhookInput{WebhookID: *id}
	if in.SourceInput, err = src.input(fs, name); err != nil {
		return err
	}
	if in.RateInput, err = rf.input(name); err != nil {
		return err
	}
	if in.Form, in.SetForm, err = ff.input(name, getenv); err != nil {
		return err
	}
	if *allowQuery != "" {
		allow, perr := strconv.ParseBool(*allowQuery)
		if perr != nil {
			return usageError{fmt.Sprintf("%s: --allow-query-token must be true or false", name)}
		}
		in.AllowQueryToken = &allow
	}
	if in.AllowQueryToken == nil && in.Source == nil && in.Mapping == nil && in.SigningSecret == nil && !in.SetForm &&
		in.RateLimit == nil && in.RateBurst == nil {
		return usageError{fmt.Sprintf("%s: give --allow-query-token, --source, --mapping, --signing-secret, --form, --rate-limit or --rate-burst", name)}
	}
	// The key seals a signing secret or a form's CAPTCHA secret the update may set.
	svc, err := s.webhooks(ctx, in.Source != nil || in.SigningSecret != nil || in.SetForm)
	if err != nil {
		return err
	}
	w, err := svc.Update(ctx, in)
	if err != nil {
		return err
	}
	w.URL = s.url(w.ID)
	rows := [][]string{{"ID", "NAME", "SOURCE", "ALLOW QUERY TOKEN", "FORM", "RATE"}, {w.ID, w.Name, w.Source, strconv.FormatBool(w.AllowQueryToken), formCell(w.Form), rateCell(*w)}}
	if in.AllowQueryToken != nil && !*in.AllowQueryToken {
		rows = append(rows, []string{}, []string{"If the token was ever in a URL, rotate it: rlctl webhook rotate --id " + w.ID})
	}
	return s.print(wire.ViewWebhook(*w), withSecret(withQueryTokenWarning(rows, w.QueryTokenWarning), w.GeneratedSigningSecret))
}

func webhookRotate(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	id := fs.String("id", "", "webhook id")
	grace := fs.Duration("grace", 0, "keep the old token valid this long (whole seconds, at most 168h)")
	s, err := parse(ctx, fs, args, out, getenv, "id")
	if err != nil {
		return err
	}
	svc, err := s.webhooks(ctx, true)
	if err != nil {
		return err
	}
	r, err := svc.Rotate(ctx, lead.RotateWebhookInput{WebhookID: *id, GracePeriod: *grace})
	if err != nil {
		return err
	}
	until := "now (no grace period)"
	if !r.PreviousTokenExpiresAt.IsZero() {
		until = lead.FormatTime(r.PreviousTokenExpiresAt)
	}
	return s.print(wire.ViewRotatedWebhook(r), [][]string{{"ID", "ROTATED AT", "OLD TOKEN VALID UNTIL", "TOKEN (shown once)"},
		{r.ID, lead.FormatTime(r.RotatedAt), until, r.Token}})
}

func webhookList(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	org := fs.String("org", "", "organization id")
	limit := fs.Int("limit", 0, "webhooks per page (default 50, at most 100)")
	cursor := fs.String("cursor", "", "nextCursor of the previous page")
	s, err := parse(ctx, fs, args, out, getenv, "org")
	if err != nil {
		return err
	}
	if *limit < 0 {
		return usageError{fmt.Sprintf("%s: --limit must be positive", name)}
	}
	svc, err := s.webhooks(ctx, false)
	if err != nil {
		return err
	}
	page, err := svc.List(ctx, lead.ListWebhooksInput{OrganizationID: *org, Limit: *limit, Cursor: *cursor})
	if err != nil {
		return err
	}
	rows := [][]string{{"ID", "NAME", "SOURCE", "POOL ID", "CREATED", "ROTATED", "LAST TEST DELIVERY", "RATE", "URL"}}
	for i := range page.Webhooks {
		w := &page.Webhooks[i]
		w.URL = s.url(w.ID)
		rotated := ""
		if !w.RotatedAt.IsZero() {
			rotated = lead.FormatTime(w.RotatedAt)
		}
		lastTest := ""
		if d := w.LastTestDelivery; d != nil {
			lastTest = lead.FormatTime(d.At) + " " + d.Result
		}
		rows = append(rows, []string{w.ID, w.Name, w.Source, w.PoolID, lead.FormatTime(w.CreatedAt), rotated, lastTest, rateCell(*w), w.URL})
	}
	if page.NextCursor != "" {
		rows = append(rows, []string{"next page: --cursor " + page.NextCursor})
	}
	return s.print(wire.ViewWebhookPage(page), rows)
}

func webhookDelete(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	id := fs.String("id", "", "webhook id")
	s, err := parse(ctx, fs, args, out, getenv, "id")
	if err != nil {
		return err
	}
	svc, err := s.webhooks(ctx, false)
	if err != nil {
		return err
	}
	if err := svc.Delete(ctx, *id); err != nil {
		return err
	}
	res := map[string]string{"id": strings.ToLower(*id), "result": "deleted", "at": lead.FormatTime(time.Now())}
	return s.print(res, [][]string{{"ID", "RESULT"}, {res["id"], "deleted"}})
}

// runnerInfoPath is where the local runner's AWS address describes the runner
// (localaws.RunnerInfoPath; rlctl does not link the runner's packages).
const runnerInfoPath = "/rocketlead/local-runner"

// runnerBaseURL asks the local runner at endpoint (its AWS address) for the base of its
// webhook URLs, which depends on its -addr; a runner that does not answer (an older one, or
// a bare AWS stand-in) gets the default http://127.0.0.1:3000.
func runnerBaseURL(ctx context.Context, endpoint string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(endpoint, "/")+runnerInfoPath, nil)
	if err != nil {
		return localBaseURL
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return localBaseURL
	}
	defer resp.Body.Close()
	var info struct {
		PublicBaseURL string `json:"publicBaseUrl"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&info) != nil || info.PublicBaseURL == "" {
		return localBaseURL
	}
	return info.PublicBaseURL
}
