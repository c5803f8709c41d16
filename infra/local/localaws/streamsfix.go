package localaws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// emptyMapFix is the HTTP transport of the poller's Streams client. DynamoDB Local renders an
// empty map attribute in stream records as {} instead of {"M":{}}; aws-lambda-go refuses that,
// and the SDK's decoder does worse: it leaves the value of the previous attribute of the same
// map in its place. So GetRecords responses are repaired before the SDK reads them.
type emptyMapFix struct{ next http.RoundTripper }

func (f emptyMapFix) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := f.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || req.Header.Get("X-Amz-Target") != dynamoDBStreamsPrefix+"GetRecords" {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read GetRecords response: %w", err)
	}
	fixed, err := fixEmptyMaps(body)
	if err != nil {
		return nil, fmt.Errorf("repair GetRecords response: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(fixed))
	resp.ContentLength = int64(len(fixed))
	resp.Header.Set("Content-Length", strconv.Itoa(len(fixed)))
	// The CRC32 DynamoDB Local sent is for the original body.
	resp.Header.Del("X-Amz-Crc32")
	return resp, nil
}

// fixEmptyMaps rewrites every typeless attribute value ({}) in the images of a GetRecords
// response as the empty map it stands for.
func fixEmptyMaps(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	recs, _ := out["Records"].([]any)
	changed := false
	for _, r := range recs {
		rec, _ := r.(map[string]any)
		ddb, _ := rec["dynamodb"].(map[string]any)
		for _, img := range []string{"Keys", "NewImage", "OldImage"} {
			if m, ok := ddb[img].(map[string]any); ok {
				changed = fixItem(m) || changed
			}
		}
	}
	if !changed {
		return body, nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return b, nil
}

func fixItem(item map[string]any) bool {
	changed := false
	for k, v := range item {
		av, ok := v.(map[string]any)
		if !ok {
			continue
		}
		if len(av) == 0 {
			item[k] = map[string]any{"M": map[string]any{}}
			changed = true
			continue
		}
		changed = fixValue(av) || changed
	}
	return changed
}

func fixValue(av map[string]any) bool {
	switch {
	case av["M"] != nil:
		m, _ := av["M"].(map[string]any)
		return fixItem(m)
	case av["L"] != nil:
		l, _ := av["L"].([]any)
		changed := false
		for i, e := range l {
			ev, ok := e.(map[string]any)
			if !ok {
				continue
			}
			if len(ev) == 0 {
				l[i] = map[string]any{"M": map[string]any{}}
				changed = true
				continue
			}
			changed = fixValue(ev) || changed
		}
		return changed
	}
	return false
}
