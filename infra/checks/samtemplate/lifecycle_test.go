package samtemplate_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// evaluator resolves the parts of the template that depend on parameters: conditions,
// Fn::If and AWS::NoValue, for one set of parameter values (the rest at their defaults).
type evaluator struct {
	params     map[string]string
	conditions map[string]*yaml.Node
	cache      map[string]bool
}

func newEvaluator(t *testing.T, doc *yaml.Node, values map[string]string) *evaluator {
	t.Helper()
	e := &evaluator{params: map[string]string{}, conditions: map[string]*yaml.Node{}, cache: map[string]bool{}}
	params := child(doc, "Parameters")
	for i := 0; params != nil && i+1 < len(params.Content); i += 2 {
		e.params[params.Content[i].Value] = flow(child(params.Content[i+1], "Default"))
		if flow(child(params.Content[i+1], "Default")) == "<missing>" {
			e.params[params.Content[i].Value] = ""
		}
	}
	for k, v := range values {
		e.params[k] = v
	}
	conds := child(doc, "Conditions")
	for i := 0; conds != nil && i+1 < len(conds.Content); i += 2 {
		e.conditions[conds.Content[i].Value] = conds.Content[i+1]
	}
	return e
}

// condition evaluates the named condition of the template.
func (e *evaluator) condition(t *testing.T, name string) bool {
	t.Helper()
	if v, ok := e.cache[name]; ok {
		return v
	}
	n, ok := e.conditions[name]
	if !ok {
		t.Fatalf("condition %s is not defined", name)
	}
	v := e.truth(t, n)
	e.cache[name] = v
	return v
}

// truth evaluates a condition expression: Fn::Equals, Not, And, Or, Condition.
func (e *evaluator) truth(t *testing.T, n *yaml.Node) bool {
	t.Helper()
	switch n.Tag {
	case "!Condition":
		return e.condition(t, n.Value)
	case "!Not":
		return !e.truth(t, n.Content[0])
	case "!And", "!Or":
		and := n.Tag == "!And"
		for _, c := range n.Content {
			if v := e.truth(t, c); v != and {
				return v
			}
		}
		return and
	case "!Equals":
		return e.scalar(t, n.Content[0]) == e.scalar(t, n.Content[1])
	}
	t.Fatalf("condition expression %s is not understood by this test", flow(n))
	return false
}

// scalar resolves a literal or a !Ref to a parameter.
func (e *evaluator) scalar(t *testing.T, n *yaml.Node) string {
	t.Helper()
	if n.Tag == "!Ref" {
		v, ok := e.params[n.Value]
		if !ok {
			t.Fatalf("!Ref %s in a condition is not a parameter", n.Value)
		}
		return v
	}
	return n.Value
}

// resolve returns n with every !If decided and every !Ref AWS::NoValue removed; nil when n
// itself is AWS::NoValue.
func (e *evaluator) resolve(t *testing.T, n *yaml.Node) *yaml.Node {
	t.Helper()
	if n == nil {
		return nil
	}
	switch {
	case n.Tag == "!Ref" && n.Value == "AWS::NoValue":
		return nil
	case n.Tag == "!If":
		if e.condition(t, n.Content[0].Value) {
			return e.resolve(t, n.Content[1])
		}
		return e.resolve(t, n.Content[2])
	}
	if n.Kind != yaml.SequenceNode && n.Kind != yaml.MappingNode {
		return n
	}
	out := *n
	out.Content = nil
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			if r := e.resolve(t, c); r != nil {
				out.Content = append(out.Content, r)
			}
		}
		return &out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if r := e.resolve(t, n.Content[i+1]); r != nil {
			out.Content = append(out.Content, n.Content[i], r)
		}
	}
	return &out
}

// exists reports whether a resource is created for these parameters (its Condition).
func (e *evaluator) exists(t *testing.T, res *yaml.Node) bool {
	c := child(res, "Condition")
	return c == nil || e.condition(t, c.Value)
}

func rawTemplate(t *testing.T) *yaml.Node {
	t.Helper()
	data, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// alarmScenarios are the ways an operator answers AlarmEmail and AlarmTopicArn.
var alarmScenarios = []struct {
	name     string
	params   map[string]string
	notifies bool // some topic is configured: every alarm must act on it
}{
	{"no topic", map[string]string{}, false},
	{"AlarmEmail", map[string]string{"AlarmEmail": "oncall@example.com"}, true},
	{"AlarmTopicArn", map[string]string{"AlarmTopicArn": "arn:aws:sns:us-east-1:111122223333:oncall"}, true},
	{"both", map[string]string{"AlarmEmail": "oncall@example.com", "AlarmTopicArn": "arn:aws:sns:us-east-1:111122223333:oncall"}, true},
}

// TestEveryAlarmActionCanBeDelivered decides, for each way of configuring the alarm topic,
// what every alarm's AlarmActions and OKActions resolve to, and fails when a topic is
// configured but an alarm has no action, when an action names a topic that is not created,
// or when a topic of the template is encrypted with a key that does not let CloudWatch use
// it. CloudWatch publishes to an encrypted topic only if the key's policy grants
// cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*; the AWS-managed alias/aws/sns
// key's policy cannot be changed, so an alarm on such a topic is delivered to nobody. (A
// topic given by AlarmTopicArn is outside the template: the README says what it needs.)
func TestEveryAlarmActionCanBeDelivered(t *testing.T) {
	doc := rawTemplate(t)
	res := rawResources(t)
	alarms := resourcesOfType(res, "AWS::CloudWatch::Alarm")
	if len(alarms) == 0 {
		t.Fatal("no alarms")
	}
	for _, sc := range alarmScenarios {
		t.Run(sc.name, func(t *testing.T) {
			e := newEvaluator(t, doc, sc.params)
			targets := map[string][]string{} // action -> the alarms that act on it
			nodes := map[string]*yaml.Node{}
			for _, id := range alarms {
				props := e.resolve(t, child(res[id], "Properties"))
				for _, k := range []string{"AlarmActions", "OKActions"} {
					actions := child(props, k)
					if sc.notifies && (actions == nil || len(actions.Content) == 0) {
						t.Errorf("%s has no %s although a topic is configured", id, k)
						continue
					}
					for _, a := range contentOf(actions) {
						targets[flow(a)] = append(targets[flow(a)], id+"."+k)
						nodes[flow(a)] = a
					}
				}
			}
			for target, users := range targets {
				if msg := deliverable(t, e, res, nodes[target]); msg != "" {
					t.Errorf("%d alarm actions (%s, ...) notify %s: %s", len(users), users[0], target, msg)
				}
			}
		})
	}
}

func contentOf(n *yaml.Node) []*yaml.Node {
	if n == nil {
		return nil
	}
	return n.Content
}

// deliverable says why CloudWatch could not publish to the action's topic, or "".
func deliverable(t *testing.T, e *evaluator, res map[string]*yaml.Node, action *yaml.Node) string {
	t.Helper()
	if action.Tag != "!Ref" {
		return "an alarm action must be a !Ref to the topic (of the template or the AlarmTopicArn parameter)"
	}
	if _, isParam := e.params[action.Value]; isParam {
		return "" // the operator's own topic: outside the template
	}
	topic := res[action.Value]
	if flow(child(topic, "Type")) != "AWS::SNS::Topic" {
		return "not an SNS topic of the template"
	}
	if !e.exists(t, topic) {
		return "the topic is not created with these parameters (its Condition is false)"
	}
	key := child(e.resolve(t, child(topic, "Properties")), "KmsMasterKeyId")
	if key == nil {
		return "" // not encrypted: CloudWatch can publish
	}
	keyID := ""
	switch key.Tag {
	case "!Ref":
		keyID = key.Value
	case "!GetAtt":
		keyID, _, _ = strings.Cut(key.Value, ".")
	default:
		return fmt.Sprintf("KmsMasterKeyId %s is not a key of the template whose policy lets cloudwatch.amazonaws.com use it (alias/aws/sns cannot)", flow(key))
	}
	keyRes := res[keyID]
	if flow(child(keyRes, "Type")) != "AWS::KMS::Key" {
		return fmt.Sprintf("KmsMasterKeyId names %s, not an AWS::KMS::Key", keyID)
	}
	if !e.exists(t, keyRes) {
		return fmt.Sprintf("key %s is not created with these parameters", keyID)
	}
	if msg := cloudWatchMayUse(t, e, keyRes); msg != "" {
		return fmt.Sprintf("key %s: %s", keyID, msg)
	}
	return ""
}

// cloudWatchMayUse checks a key's policy: one Allow statement for the service principal
// cloudwatch.amazonaws.com with kms:Decrypt and kms:GenerateDataKey*, limited to this
// account's alarms by aws:SourceAccount and aws:SourceArn.
func cloudWatchMayUse(t *testing.T, e *evaluator, key *yaml.Node) string {
	t.Helper()
	props := e.resolve(t, child(key, "Properties"))
	if v := flow(child(props, "Enabled")); v == "false" {
		return "the key is disabled"
	}
	stmts := path(props, "KeyPolicy", "Statement")
	if stmts == nil {
		return "no KeyPolicy statements"
	}
	for _, s := range stmts.Content {
		if flow(child(s, "Effect")) != "Allow" || !slices.Contains(strings.Fields(strings.Trim(flow(path(s, "Principal", "Service")), "[]")), "cloudwatch.amazonaws.com") {
			continue
		}
		actions := flow(child(s, "Action"))
		for _, want := range []string{"kms:Decrypt", "kms:GenerateDataKey*"} {
			if !strings.Contains(actions, want) {
				return fmt.Sprintf("the cloudwatch.amazonaws.com statement lacks %s", want)
			}
		}
		var keys []string
		cond := child(s, "Condition")
		for i := 0; cond != nil && i+1 < len(cond.Content); i += 2 {
			op := cond.Content[i+1]
			for j := 0; j+1 < len(op.Content); j += 2 {
				keys = append(keys, op.Content[j].Value)
			}
		}
		for _, want := range []string{"aws:SourceAccount", "aws:SourceArn"} {
			if !slices.Contains(keys, want) {
				return fmt.Sprintf("the cloudwatch.amazonaws.com statement is not limited by %s (confused deputy)", want)
			}
		}
		return ""
	}
	return "no statement allows cloudwatch.amazonaws.com to use the key"
}

// TestKeyPoliciesGrantOnlyTheAccountAndCloudWatch: a key policy's Resource is always "*"
// (the key itself), so TestIAMStatementsAreLeastPrivilege leaves key policies to this test.
// Only the account itself (which keeps the key manageable, as AWS's default key policy does)
// and CloudWatch, under conditions, may use a key of the template.
func TestKeyPoliciesGrantOnlyTheAccountAndCloudWatch(t *testing.T) {
	res := rawResources(t)
	for _, id := range resourcesOfType(res, "AWS::KMS::Key") {
		props := child(res[id], "Properties")
		if got := flow(child(props, "EnableKeyRotation")); got != "true" {
			t.Errorf("%s EnableKeyRotation = %s; want true", id, got)
		}
		stmts := path(props, "KeyPolicy", "Statement")
		if stmts == nil {
			t.Errorf("%s has no KeyPolicy statements", id)
			continue
		}
		for _, s := range stmts.Content {
			sid := flow(child(s, "Sid"))
			if r := flow(child(s, "Resource")); r != "*" {
				t.Errorf("%s statement %s Resource = %s; a key policy's resource is \"*\" (this key)", id, sid, r)
			}
			aws, svc := flow(path(s, "Principal", "AWS")), flow(path(s, "Principal", "Service"))
			switch {
			case svc == "cloudwatch.amazonaws.com" && aws == "<missing>":
				if child(s, "Condition") == nil {
					t.Errorf("%s statement %s grants CloudWatch without conditions", id, sid)
				}
				if a := flow(child(s, "Action")); a != "[kms:Decrypt, kms:GenerateDataKey*]" {
					t.Errorf("%s statement %s grants CloudWatch %s; want [kms:Decrypt, kms:GenerateDataKey*]", id, sid, a)
				}
			case svc == "<missing>" && aws == "!Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:root":
			default:
				t.Errorf("%s statement %s grants %s %s; only the account root and cloudwatch.amazonaws.com may be principals", id, sid, aws, svc)
			}
		}
	}
}

// physicalNames are the properties that give a resource a fixed name.
var physicalNames = []string{"LogGroupName", "TableName", "Name", "QueueName", "TopicName", "FunctionName",
	"BucketName", "AliasName", "RoleName", "AlarmName", "DashboardName", "StreamName"}

// TestNothingNamedAndRetainedBlocksARedeploy: a resource kept when the stack is deleted
// (DeletionPolicy Retain) and named from the stack name alone would make a new stack of the
// same name fail on "already exists" until someone deletes it by hand. Such a name must
// include the stack's id, which differs for every stack.
func TestNothingNamedAndRetainedBlocksARedeploy(t *testing.T) {
	res := rawResources(t)
	for id, r := range res {
		if p := flow(child(r, "DeletionPolicy")); p != "Retain" && p != "RetainExceptOnCreate" && p != "Snapshot" {
			continue
		}
		props := child(r, "Properties")
		for _, k := range physicalNames {
			n := child(props, k)
			if n == nil {
				continue
			}
			if !strings.Contains(renderAll(n), "AWS::StackId") {
				t.Errorf("%s is retained and named %s = %s: a redeploy under the same stack name fails until it is deleted; leave the name to CloudFormation or build it with AWS::StackId", id, k, renderAll(n))
			}
		}
	}
}

// renderAll renders a node and everything under it, tags included.
func renderAll(n *yaml.Node) string {
	var b strings.Builder
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		b.WriteString(n.Tag + " " + n.Value + " ")
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// TestTableAndSecretSurviveStackDeletion: the table (customer data) and the token key
// secret (every token's hash depends on it) stay when the stack is deleted or a change
// would replace them, and the table refuses a DeleteTable until its protection is lifted.
func TestTableAndSecretSurviveStackDeletion(t *testing.T) {
	res := rawResources(t)
	for _, id := range []string{"Table", "TokenKeySecret"} {
		for _, k := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
			if got := flow(child(res[id], k)); got != "Retain" {
				t.Errorf("%s %s = %s; want Retain", id, k, got)
			}
		}
	}
	if got := flow(path(res["Table"], "Properties", "DeletionProtectionEnabled")); got != "true" {
		t.Errorf("Table DeletionProtectionEnabled = %s; want true", got)
	}
}

// TestREADMEDeployNamesEveryParameter: the Deploy section names every parameter of
// template.yaml with its default.
func TestREADMEDeployNamesEveryParameter(t *testing.T) {
	b, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	deploy := readmeSection(t, string(b), "Deploy")
	params := rawParameters(t)
	for i := 0; i+1 < len(params.Content); i += 2 {
		name := params.Content[i].Value
		def := flow(child(params.Content[i+1], "Default"))
		row := regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(name) + "` \\| ([^|]*) \\|").FindStringSubmatch(deploy)
		if row == nil {
			t.Errorf("README Deploy has no row | `%s` | <default> | <when to change it> |", name)
			continue
		}
		got := strings.Trim(strings.TrimSpace(row[1]), "`")
		if def == "" {
			def = "empty"
		}
		if got != def {
			t.Errorf("README Deploy gives %s the default %q; template.yaml %q", name, got, def)
		}
	}
}

// TestREADMEFixedCostsCountTheTemplate: the README's monthly fixed costs count the alarm
// metrics of the template (CloudWatch bills an alarm per metric it reads). An alarm on a
// Metrics Insights query is billed per metric the query reads, which traffic decides: the
// README counts those alarms apart.
func TestREADMEFixedCostsCountTheTemplate(t *testing.T) {
	res := rawResources(t)
	alarms, metrics, insights := 0, 0, 0
	for _, id := range resourcesOfType(res, "AWS::CloudWatch::Alarm") {
		n, query := 0, false
		if m := path(res[id], "Properties", "Metrics"); m != nil {
			for _, q := range m.Content {
				if child(q, "MetricStat") != nil {
					n++
				}
				if e := child(q, "Expression"); e != nil && strings.HasPrefix(e.Value, "SELECT ") {
					query = true
				}
			}
		} else {
			n = 1
		}
		if query {
			insights++
			continue
		}
		alarms++
		metrics += n
	}
	b, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	// Words, whatever the line breaks between them.
	text := strings.Join(strings.Fields(readmeSection(t, string(b), "Cost per lead")), " ")
	want := fmt.Sprintf("%d alarms read %d metrics", alarms, metrics)
	if !strings.Contains(text, want) {
		t.Errorf("README Cost per lead does not say %q (the template's alarms)", want)
	}
	if cost := fmt.Sprintf("$%.2f", float64(metrics)*0.10); !strings.Contains(text, cost) {
		t.Errorf("README Cost per lead does not give the alarms' %s a month ($0.10 per alarm metric)", cost)
	}
	if want := fmt.Sprintf("%d Metrics Insights alarm", insights); insights > 0 && !strings.Contains(text, want) {
		t.Errorf("README Cost per lead does not say %q (billed per metric its query reads)", want)
	}
}
