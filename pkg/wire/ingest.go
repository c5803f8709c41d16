package wire

import (
	"bytes"
	"mime"
	"strings"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// The media types of the ingest endpoint.
const (
	MediaJSON       = "application/json"
	MediaURLEncoded = "application/x-www-form-urlencoded"
	MediaMultipart  = "multipart/form-data"
	MediaText       = "text/plain"
)

// AcceptedMediaTypes names the content types the ingest endpoint accepts, for messages.
const AcceptedMediaTypes = "application/json (or any +json type), application/x-www-form-urlencoded, multipart/form-data, or text/plain holding a JSON object"

// bodyFormat is how an ingest body is read: the reader its Content-Type picks.
type bodyFormat int

const (
	formatJSON bodyFormat = iota
	formatText            // text/plain: JSON, as a browser's CORS-free simple request sends it
	formatURLEncoded
	formatMultipart
)

// ingestMedia is an accepted Content-Type: the reader it picks and, for multipart, the
// boundary.
type ingestMedia struct {
	format   bodyFormat
	boundary string
}

// CheckIngestMedia answers whether an ingest body with this Content-Type and
// Content-Encoding can be read: nil, or a 415 naming the fix. A missing Content-Type ("")
// means JSON; a Content-Encoding other than identity is refused, for the body is read as
// sent.
func CheckIngestMedia(contentType, contentEncoding string) error {
	if enc := strings.TrimSpace(contentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
		return lead.Errorf(lead.EUNSUPPORTED, "Content-Encoding %s is not accepted; send the body uncompressed", mediaName(enc))
	}
	_, err := ingestMediaOf(contentType)
	return err
}

// ingestMediaOf picks the body's reader from the Content-Type (parameters such as charset
// allowed; "" is JSON): JSON for application/json and +json types and for text/plain, a form
// for application/x-www-form-urlencoded and multipart/form-data, and a 415 for anything else.
func ingestMediaOf(contentType string) (ingestMedia, error) {
	if strings.TrimSpace(contentType) == "" {
		return ingestMedia{format: formatJSON}, nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	switch {
	case err != nil:
		return ingestMedia{}, lead.Errorf(lead.EUNSUPPORTED, "the Content-Type header could not be read; send %s", AcceptedMediaTypes)
	case mt == MediaJSON || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
		return ingestMedia{format: formatJSON}, nil
	case mt == MediaText:
		return ingestMedia{format: formatText}, nil
	case mt == MediaURLEncoded:
		return ingestMedia{format: formatURLEncoded}, nil
	case mt == MediaMultipart:
		return ingestMedia{format: formatMultipart, boundary: params["boundary"]}, nil
	}
	return ingestMedia{}, lead.Errorf(lead.EUNSUPPORTED, "Content-Type %s is not accepted; send %s", mediaName(mt), AcceptedMediaTypes)
}

// mediaName is a media type or encoding fit for a message: the sender's own header text,
// cut short, never anything but printable ASCII.
func mediaName(s string) string {
	s = clip(s, 100)
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
		return "(unreadable)"
	}
	return s
}

// ParseIngest parses an ingest body (base64 already undone) as its Content-Type says, within
// the limits: the one entry point for every body format. JSON (a leading UTF-8 BOM skipped);
// text/plain as JSON; a form, unless its first character after an optional BOM and white
// space is { or [, which makes it JSON. Every failure is a coded *lead.Error: a 415 for a
// type the endpoint does not accept, a 400 naming the type the body was read as otherwise.
func ParseIngest(contentType string, raw []byte, lim lead.Limits) (*lead.Body, error) {
	media, err := ingestMediaOf(contentType)
	if err != nil {
		return nil, err
	}
	switch {
	case media.format == formatJSON:
		return parseJSON(raw, "", lim)
	case media.format == formatText:
		return parseJSON(raw, MediaText, lim)
	case looksJSON(raw):
		return parseJSON(raw, MediaURLEncoded, lim)
	case media.format == formatMultipart:
		fields, err := parseMultipart(raw, media.boundary)
		if err != nil {
			return nil, err
		}
		return fields.body(lim)
	default:
		fields, err := parseURLEncoded(withoutBOM(raw))
		if err != nil {
			return nil, err
		}
		return fields.body(lim)
	}
}

// utf8BOM is the byte order mark some Windows tools put before a UTF-8 text.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

func withoutBOM(raw []byte) []byte {
	return bytes.TrimPrefix(raw, utf8BOM)
}

// looksJSON reports whether a form or text body is JSON: its first character, after an
// optional BOM and white space, is { or [. It is then read, and must be valid, as JSON.
func looksJSON(raw []byte) bool {
	t := bytes.TrimLeft(withoutBOM(raw), " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}
