package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/recon/service"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
	"github.com/vouchsafe/vouchsafe/psi"
)

// uploader posts voucher batches to the ingest API of `vouchsafe serve`
// (POST /v1/accounts/{account}/vouchers, a voucher stream per batch). A
// batch is resent unchanged until the server answers: the server files
// vouchers by id, so a resend of a batch it already stored comes back as
// duplicates, never as new vouchers.
type uploader struct {
	client   *http.Client
	endpoint string
	token    string
	attempts int           // tries per batch, the first included
	base     time.Duration // first backoff
	max      time.Duration // longest backoff
	logf     func(format string, args ...any)
	sleep    func(ctx context.Context, d time.Duration) error
}

// maxTokenFile bounds the --token-file read.
const maxTokenFile = 4 << 10

// newUploader checks the base URL and reads the bearer token.
func newUploader(base, account, tokenFile string, logf func(string, ...any)) (*uploader, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--upload %q: want the service's base URL, http(s)://host:port", base)
	}
	if !service.ValidAccount(account) {
		return nil, fmt.Errorf("account %q is not a valid account name for the service (set --upload-account)", account)
	}
	tok, err := readToken(tokenFile)
	if err != nil {
		return nil, err
	}
	return &uploader{
		client:   &http.Client{Timeout: 5 * time.Minute},
		endpoint: strings.TrimRight(u.String(), "/") + "/v1/accounts/" + account + "/vouchers",
		token:    tok,
		attempts: 12,
		base:     100 * time.Millisecond,
		max:      5 * time.Second,
		logf:     logf,
		sleep:    sleepCtx,
	}, nil
}

// readToken reads the bearer token: a regular file (a FIFO or a device
// would hang the run or never end) of at most maxTokenFile bytes.
func readToken(path string) (string, error) {
	if path == "" {
		return "", errors.New("--upload needs --token-file FILE")
	}
	b, err := safeio.ReadFile(path, maxTokenFile)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("%s: want one token on one line", path)
	}
	return tok, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errPermanent marks an answer that a resend cannot change.
var errPermanent = errors.New("refused")

// send uploads vs and returns the server's answer, retrying transport
// errors, 429 and 5xx answers with exponential backoff and full jitter.
func (u *uploader) send(ctx context.Context, vs [][]byte) (*service.IngestResult, error) {
	var body bytes.Buffer
	w, err := psi.NewVoucherWriter(&body, "")
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if err := w.Write(v); err != nil {
			return nil, err
		}
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		res, err := u.post(ctx, body.Bytes())
		if err == nil {
			if res.Received != len(vs) || len(res.Vouchers) != len(vs) {
				return nil, fmt.Errorf("upload: the server answered for %d of %d vouchers", len(res.Vouchers), len(vs))
			}
			return res, nil
		}
		if errors.Is(err, errPermanent) || ctx.Err() != nil || attempt == u.attempts {
			return nil, fmt.Errorf("upload to %s: %w", u.endpoint, err)
		}
		d := min(u.max, u.base<<(attempt-1))
		d = time.Duration(rand.Int64N(int64(d)) + 1) // full jitter: retries of many clients spread out
		if u.logf != nil {
			u.logf("upload: %v; retry %d of %d in %v", err, attempt, u.attempts-1, d.Round(time.Millisecond))
		}
		if err := u.sleep(ctx, d); err != nil {
			return nil, err
		}
	}
}

// maxAnswer bounds the JSON answer to one upload.
const maxAnswer = 64 << 20

func (u *uploader) post(ctx context.Context, body []byte) (*service.IngestResult, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", u.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errPermanent, err)
	}
	req.Header.Set("Authorization", "Bearer "+u.token)
	req.Header.Set("Content-Type", service.ContentTypeStream)
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	default:
		return nil, fmt.Errorf("%w: %s: %s", errPermanent, resp.Status, bytes.TrimSpace(b))
	}
	var res service.IngestResult
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("%w: answer is not an upload result: %v", errPermanent, err)
	}
	return &res, nil
}
