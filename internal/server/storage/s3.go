package storage

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/rempart/rempart/internal/vault/backend"
)

// Retention modes of S3 Object Lock (S3Config.Mode).
const (
	// ModeCompliance: nobody, not even the bucket's root account, can
	// delete a locked object version or shorten its lock. The default.
	ModeCompliance = "compliance"
	// ModeGovernance: like compliance, except for credentials holding the
	// s3:BypassGovernanceRetention permission. Rempart never bypasses, but
	// anyone holding such credentials can.
	ModeGovernance = "governance"
)

// spoolMemory is the largest body Put keeps in memory; larger ones (packs,
// up to 64 MiB) go to a temporary file so that many concurrent uploads do
// not exhaust the server's memory.
const spoolMemory = 8 << 20

// writerMeta is the user metadata (header X-Amz-Meta-Rempart-Writer) that
// records who wrote a file.
const writerMeta = "Rempart-Writer"

// S3Config says where an S3 storage lives. The yaml names are those of the
// server's configuration file (storage.s3).
type S3Config struct {
	// Endpoint is HOST:PORT (an https:// prefix is accepted; http:// only
	// with Insecure).
	Endpoint string `yaml:"endpoint"`
	// Bucket must exist, created with Object Lock enabled.
	Bucket string `yaml:"bucket"`
	// Prefix, when set, is put before every key, so that one bucket can be
	// shared with other data.
	Prefix string `yaml:"prefix"`
	// Region is the bucket's region ("" asks the endpoint).
	Region    string `yaml:"region"`
	AccessKey string `yaml:"access_key"`
	// SecretKey is never logged nor printed (see String).
	SecretKey string `yaml:"secret_key"`
	// Insecure uses plain HTTP: for tests on this machine only, since the
	// credentials and the data would cross the network in clear.
	Insecure bool `yaml:"insecure"`
	// CAFile is a PEM file of extra certificate authorities to trust, for
	// an endpoint with a self-signed or private certificate.
	CAFile string `yaml:"ca_file"`
	// Mode is the Object Lock mode, ModeCompliance (default) or
	// ModeGovernance.
	Mode string `yaml:"mode"`
	// SpoolDir is where bodies too large to keep in memory wait while
	// they are verified ("" is the system's temporary folder).
	SpoolDir string `yaml:"-"`
}

// String hides the secret key, so that a configuration printed in a log or
// an error message never leaks it.
func (c S3Config) String() string {
	secret := ""
	if c.SecretKey != "" {
		secret = "[hidden]"
	}
	return fmt.Sprintf("{endpoint:%s bucket:%s prefix:%s region:%s access_key:%s secret_key:%s insecure:%t ca_file:%s mode:%s}",
		c.Endpoint, c.Bucket, c.Prefix, c.Region, c.AccessKey, secret, c.Insecure, c.CAFile, c.Mode)
}

// LogValue hides the secret key from slog too.
func (c S3Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// S3 stores each tenant's repository under PREFIX/TENANT/ in a bucket with
// Object Lock: PREFIX/TENANT/config and PREFIX/TENANT/TYPE/NAME (packs are
// not split into sub-folders: keys are not directories). Every file but
// locks is written with a retention lock when the caller asks for one, and
// the storage itself then refuses to delete it, whoever asks: this is what
// keeps backups alive when the server, or its S3 credentials, are stolen.
//
// Objects are never overwritten: a versioned bucket would keep the old
// version, but the file would change under the readers' feet.
type S3 struct {
	client   *minio.Client
	bucket   string
	prefix   string
	mode     minio.RetentionMode
	spoolDir string
	// conditional is cleared when the endpoint refuses If-None-Match with
	// 501 Not Implemented; Put then relies on its Stat alone (see Put).
	conditional atomic.Bool
}

var _ Storage = (*S3)(nil)

// NewS3 connects to the bucket and checks that it exists with Object Lock
// enabled and no default retention (which would lock lock files too, and
// they must stay deletable).
func NewS3(ctx context.Context, c S3Config) (*S3, error) {
	endpoint, secure, err := parseEndpoint(c.Endpoint, c.Insecure)
	if err != nil {
		return nil, err
	}
	if err := s3utils.CheckValidBucketName(c.Bucket); err != nil {
		return nil, fmt.Errorf("storage: S3 bucket %q: %w (check storage.s3.bucket)", c.Bucket, err)
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return nil, errors.New("storage: S3: access key or secret key missing (set storage.s3.access_key and secret_key, or REMPART_S3_ACCESS_KEY and REMPART_S3_SECRET_KEY)")
	}
	var mode minio.RetentionMode
	switch strings.ToLower(c.Mode) {
	case "", ModeCompliance:
		mode = minio.Compliance
	case ModeGovernance:
		mode = minio.Governance
	default:
		return nil, fmt.Errorf("storage: S3: unknown Object Lock mode %q (use %s or %s)", c.Mode, ModeCompliance, ModeGovernance)
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("storage: S3: %w", err)
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("storage: S3: CA file: %w (check storage.s3.ca_file)", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("storage: S3: CA file %s holds no PEM certificate (check storage.s3.ca_file)", c.CAFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure:    secure,
		Region:    c.Region,
		Transport: tr,
	})
	if err != nil {
		return nil, fmt.Errorf("storage: S3 endpoint %q: %w (check storage.s3.endpoint: HOST:PORT)", c.Endpoint, err)
	}
	s := &S3{
		client:   client,
		bucket:   c.Bucket,
		prefix:   strings.Trim(c.Prefix, "/"),
		mode:     mode,
		spoolDir: c.SpoolDir,
	}
	s.conditional.Store(true)
	if err := s.checkBucket(ctx, endpoint); err != nil {
		return nil, err
	}
	return s, nil
}

// parseEndpoint accepts HOST:PORT or a URL, and refuses plain HTTP unless
// insecure was asked for explicitly.
func parseEndpoint(e string, insecure bool) (string, bool, error) {
	switch {
	case e == "":
		return "", false, errors.New("storage: S3: no endpoint given (set storage.s3.endpoint to HOST:PORT)")
	case strings.HasPrefix(e, "https://"):
		if insecure {
			return "", false, fmt.Errorf("storage: S3: endpoint %s is https but insecure is set (remove one of them)", e)
		}
		e = strings.TrimPrefix(e, "https://")
	case strings.HasPrefix(e, "http://"):
		if !insecure {
			return "", false, fmt.Errorf("storage: S3: endpoint %s is plain http: credentials and data would cross the network in clear (use https, or set insecure: true for a test on this machine)", e)
		}
		e = strings.TrimPrefix(e, "http://")
	}
	return strings.TrimSuffix(e, "/"), !insecure, nil
}

func (s *S3) checkBucket(ctx context.Context, endpoint string) error {
	enabled, mode, validity, unit, err := s.client.GetObjectLockConfig(ctx, s.bucket)
	create := fmt.Sprintf("create the bucket with Object Lock enabled (e.g. aws s3api create-bucket --bucket %s --object-lock-enabled-for-bucket, or mc mb --with-lock), then start the server again", s.bucket)
	if err != nil {
		r := minio.ToErrorResponse(err)
		switch r.Code {
		case "NoSuchBucket":
			return fmt.Errorf("storage: S3 bucket %q does not exist at %s: %s", s.bucket, endpoint, create)
		case "ObjectLockConfigurationNotFoundError":
			return fmt.Errorf("storage: S3 bucket %q has no Object Lock, so backups there could be deleted with the storage credentials: %s", s.bucket, create)
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
			return fmt.Errorf("storage: S3 bucket %q: %w (check the access and secret keys, and that they may read the bucket's Object Lock configuration)", s.bucket, err)
		}
		return fmt.Errorf("storage: S3 storage at %s, bucket %q: %w (check storage.s3.endpoint, region and that the storage is running)", endpoint, s.bucket, err)
	}
	if enabled != "Enabled" {
		return fmt.Errorf("storage: S3 bucket %q has Object Lock %q, not enabled: %s", s.bucket, enabled, create)
	}
	if mode != nil && *mode != "" && validity != nil && *validity > 0 {
		return fmt.Errorf("storage: S3 bucket %q has a default retention (%s, %d %s): Rempart sets each object's lock itself, and a default one would lock the repository lock files, which must stay deletable; remove the bucket's default retention rule (keep Object Lock enabled)", s.bucket, *mode, *validity, unitName(unit))
	}
	return nil
}

func unitName(u *minio.ValidityUnit) string {
	if u == nil {
		return ""
	}
	return strings.ToLower(string(*u))
}

// key is the object key of a file.
func (s *S3) key(tenant string, f File) string {
	k := tenant + "/config"
	if f.Type != backend.Config {
		k = tenant + "/" + string(f.Type) + "/" + f.Name
	}
	if s.prefix != "" {
		k = s.prefix + "/" + k
	}
	return k
}

// typePrefix is the key prefix of every file of type t.
func (s *S3) typePrefix(tenant string, t backend.FileType) string {
	p := tenant + "/" + string(t) + "/"
	if s.prefix != "" {
		p = s.prefix + "/" + p
	}
	return p
}

// noSpaceCodes are the error codes by which S3 implementations say that a
// bucket, a quota or a disk is full.
var noSpaceCodes = map[string]bool{
	"EntityTooLarge":                 true,
	"QuotaExceeded":                  true,
	"XMinioStorageFull":              true,
	"XMinioAdminBucketQuotaExceeded": true,
	"StorageFull":                    true,
	"InsufficientStorage":            true,
}

// s3Err maps an S3 error to this package's errors, with what was being
// done for context.
func (s *S3) s3Err(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("storage: %s: %w", what, err)
	}
	r := minio.ToErrorResponse(err)
	switch {
	case r.Code == "NoSuchBucket":
		return fmt.Errorf("storage: %s: the S3 bucket %q is gone: %w (create it again with Object Lock enabled, or fix storage.s3.bucket)", what, s.bucket, err)
	case r.Code == "NoSuchKey" || r.Code == "NoSuchVersion" || r.StatusCode == http.StatusNotFound:
		return fmt.Errorf("storage: %s: %w", what, ErrNotFound)
	case noSpaceCodes[r.Code] || r.StatusCode == http.StatusInsufficientStorage:
		return fmt.Errorf("storage: %s: %w: %v (add space or raise the bucket's quota)", what, ErrNoSpace, err)
	case r.Code == "PreconditionFailed" || r.Code == "ConditionalRequestConflict":
		return fmt.Errorf("storage: %s: %w", what, ErrExists)
	case r.Code == "AccessDenied":
		return fmt.Errorf("storage: %s: %w (check that the S3 credentials may read, write and delete object versions in bucket %q)", what, err, s.bucket)
	}
	return fmt.Errorf("storage: %s: %w", what, err)
}

// retainUntil reads an object version's retention from the HEAD headers
// (X-Amz-Object-Lock-Retain-Until-Date). Zero when absent or unreadable:
// some S3 implementations omit it, and GetObjectRetention is no better (its
// reply from versitygw does not decode with minio-go).
func retainUntil(oi minio.ObjectInfo) time.Time {
	v := oi.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date")
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}
	}
	return t
}

func (s *S3) info(name string, oi minio.ObjectInfo) Info {
	return Info{
		Name:        name,
		Size:        oi.Size,
		ModTime:     oi.LastModified,
		Writer:      oi.UserMetadata[writerMeta],
		RetainUntil: retainUntil(oi),
	}
}

// ceilSecond rounds up to a whole second: S3 keeps retention dates to the
// second and truncates, which would shorten a lock by a fraction.
func ceilSecond(t time.Time) time.Time {
	r := t.Truncate(time.Second)
	if r.Before(t) {
		r = r.Add(time.Second)
	}
	return r.UTC()
}

// Stat describes a stored file, with its retention lock when the storage
// reports it.
func (s *S3) Stat(ctx context.Context, tenant string, f File) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, s.key(tenant, f), minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.s3Err(err, "stat "+s.what(tenant, f))
	}
	return s.info(f.Name, oi), nil
}

func (s *S3) what(tenant string, f File) string {
	if f.Type == backend.Config {
		return tenant + "/config"
	}
	return tenant + "/" + string(f.Type) + "/" + f.Name
}

// s3Object is an open object: minio-go reads it by ranges, so Seek is
// cheap, and it pins the ETag seen at open so that every range comes from
// the same content.
type s3Object struct {
	obj  *minio.Object
	info Info
}

func (o *s3Object) Read(p []byte) (int, error)                { return o.obj.Read(p) }
func (o *s3Object) Seek(off int64, whence int) (int64, error) { return o.obj.Seek(off, whence) }
func (o *s3Object) Close() error                              { return o.obj.Close() }
func (o *s3Object) Info() Info                                { return o.info }

// Open opens a stored file for reading; reads and seeks use ctx.
func (s *S3) Open(ctx context.Context, tenant string, f File) (Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	what := "open " + s.what(tenant, f)
	obj, err := s.client.GetObject(ctx, s.bucket, s.key(tenant, f), minio.GetObjectOptions{})
	if err != nil {
		return nil, s.s3Err(err, what)
	}
	oi, err := obj.Stat()
	if err != nil {
		_ = obj.Close()
		return nil, s.s3Err(err, what)
	}
	return &s3Object{obj: obj, info: s.info(f.Name, oi)}, nil
}

// spooled is a fully read body, in memory or in a temporary file.
type spooled struct {
	r    io.ReadSeeker
	size int64
	file *os.File
}

func (b *spooled) close() {
	if b.file != nil {
		_ = b.file.Close()
		_ = os.Remove(b.file.Name())
	}
}

// spool reads body to its end: small bodies in memory, large ones in a
// temporary file in dir.
func spool(ctx context.Context, dir string, body io.Reader) (*spooled, error) {
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, ctxReader{ctx, body}, spoolMemory+1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if n <= spoolMemory {
		return &spooled{r: bytes.NewReader(buf.Bytes()), size: n}, nil
	}
	fh, err := os.CreateTemp(dir, ".rempart-s3-put-*")
	if err != nil {
		return nil, mapErr(fmt.Errorf("storage: temporary file for an upload: %w (check the spool folder's permissions and space)", err))
	}
	b := &spooled{r: fh, file: fh}
	if _, err := buf.WriteTo(fh); err != nil {
		b.close()
		return nil, mapErr(fmt.Errorf("storage: temporary file for an upload: %w", err))
	}
	if _, err := io.Copy(fh, ctxReader{ctx, body}); err != nil {
		b.close()
		return nil, mapErr(err)
	}
	if b.size, err = fh.Seek(0, io.SeekCurrent); err == nil {
		_, err = fh.Seek(0, io.SeekStart)
	}
	if err != nil {
		b.close()
		return nil, fmt.Errorf("storage: temporary file for an upload: %w", err)
	}
	return b, nil
}

// Put stores body under f. The body is read to its end and verified before
// anything is sent, so that a failed Verify or a broken upload leaves
// nothing visible; S3 makes the single PUT that follows atomic.
//
// An existing name is refused twice: by a Stat first (which spares the
// upload of a pack that is already there), then by If-None-Match: * on the
// PUT, which closes the race between two concurrent puts of the same name
// on storages that honour it (AWS, MinIO, versitygw). On a storage that
// answers 501 to it, Put falls back to the Stat alone: two puts racing on
// one name may then both succeed, which for content-addressed files stores
// the same bytes twice (two versions), and is harmless.
func (s *S3) Put(ctx context.Context, tenant string, f File, body io.Reader, opts PutOptions) error {
	what := "put " + s.what(tenant, f)
	if opts.Replace && f.Type != backend.Lock {
		return fmt.Errorf("storage: %s: only lock files may be replaced", what)
	}
	key := s.key(tenant, f)
	if !opts.Replace {
		_, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
		if err == nil {
			return fmt.Errorf("storage: %s: %w", what, ErrExists)
		}
		if err := s.s3Err(err, what); !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	b, err := spool(ctx, s.spoolDir, body)
	if err != nil {
		return err
	}
	defer b.close()
	if opts.Verify != nil {
		if err := opts.Verify(); err != nil {
			return err
		}
	}
	po := minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		// The storage checks the bytes it received against this MD5;
		// AWS also requires it (or a checksum) with a retention lock.
		SendContentMd5: true,
		// One PUT: packs are at most 64 MiB, and a single PUT is atomic
		// and carries the If-None-Match condition.
		DisableMultipart: true,
	}
	if opts.Writer != "" {
		po.UserMetadata = map[string]string{writerMeta: opts.Writer}
	}
	// Locks are replaced and deleted by their writer: never locked.
	if f.Type != backend.Lock && opts.RetainUntil.After(time.Now()) {
		po.Mode = s.mode
		po.RetainUntilDate = ceilSecond(opts.RetainUntil)
	}
	return s.putObject(ctx, key, what, b, po, !opts.Replace)
}

// putObject sends the spooled body; ifNoneMatch makes the storage refuse
// it when the key exists.
func (s *S3) putObject(ctx context.Context, key, what string, b *spooled, po minio.PutObjectOptions, ifNoneMatch bool) error {
	if ifNoneMatch && s.conditional.Load() {
		cond := po
		cond.SetMatchETagExcept("*")
		_, err := s.client.PutObject(ctx, s.bucket, key, b.r, b.size, cond)
		r := minio.ToErrorResponse(err)
		if r.StatusCode != http.StatusNotImplemented {
			return s.s3Err(err, what)
		}
		s.conditional.Store(false)
		if _, err := b.r.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("storage: %s: %w", what, err)
		}
	}
	_, err := s.client.PutObject(ctx, s.bucket, key, b.r, b.size, po)
	return s.s3Err(err, what)
}

// List calls fn for each stored file of type t: current objects only
// (neither older versions nor names hidden by a delete marker).
func (s *S3) List(ctx context.Context, tenant string, t backend.FileType, fn func(Info) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Cancelling stops minio-go's listing goroutine when fn fails.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	prefix := s.typePrefix(tenant, t)
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			return s.s3Err(oi.Err, "list "+tenant+"/"+string(t))
		}
		name := strings.TrimPrefix(oi.Key, prefix)
		if name == "" || strings.Contains(name, "/") || oi.IsDeleteMarker {
			continue
		}
		if err := fn(Info{Name: name, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// versions lists every version of key (data and delete markers), newest
// first.
func (s *S3) versions(ctx context.Context, key string) ([]minio.ObjectInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []minio.ObjectInfo
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: key, Recursive: true, WithVersions: true}) {
		if oi.Err != nil {
			return nil, oi.Err
		}
		if oi.Key == key { // the prefix also matches longer keys
			out = append(out, oi)
		}
	}
	return out, nil
}

// Delete removes every version of a file. A plain DELETE in a versioned
// bucket would only add a delete marker, hiding the data but keeping (and
// paying for) it; removing versions one by one deletes it for real, and is
// exactly what a retention lock forbids. Data versions go first, newest
// first, delete markers last: if the storage refuses (ErrLocked), the file
// is left as it was. Governance locks are never bypassed.
func (s *S3) Delete(ctx context.Context, tenant string, f File) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	what := "delete " + s.what(tenant, f)
	key := s.key(tenant, f)
	vs, err := s.versions(ctx, key)
	if err != nil {
		return s.s3Err(err, what)
	}
	var data, markers []minio.ObjectInfo
	for _, v := range vs {
		if v.IsDeleteMarker {
			markers = append(markers, v)
		} else {
			data = append(data, v)
		}
	}
	for _, v := range append(data, markers...) {
		err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{VersionID: v.VersionID})
		if err == nil {
			continue
		}
		if !v.IsDeleteMarker && minio.ToErrorResponse(err).Code == "AccessDenied" {
			if until, locked := s.locked(ctx, key, v.VersionID, err); locked {
				if until.IsZero() {
					return fmt.Errorf("storage: %s: refused by the storage's Object Lock: %w", what, ErrLocked)
				}
				return fmt.Errorf("storage: %s: %w until %s", what, ErrLocked, until.Format(time.RFC3339))
			}
		}
		return s.s3Err(err, what)
	}
	if len(data) == 0 {
		return fmt.Errorf("storage: %s: %w", what, ErrNotFound)
	}
	return nil
}

// locked tells whether a refused delete of a version was refused for its
// retention lock (rather than for missing permissions), and until when
// when the storage says.
func (s *S3) locked(ctx context.Context, key, version string, refusal error) (time.Time, bool) {
	if oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{VersionID: version}); err == nil {
		if until := retainUntil(oi); until.After(time.Now()) {
			return until, true
		}
	}
	// AWS, MinIO and versitygw name the lock in their message.
	msg := strings.ToLower(minio.ToErrorResponse(refusal).Message)
	return time.Time{}, strings.Contains(msg, "lock") || strings.Contains(msg, "worm") || strings.Contains(msg, "retention")
}

// Retain extends the retention lock of the current version of a file to
// until (rounded up to the second). A lock is never shortened: an until no
// later than the current date does nothing (S3 would refuse it anyway in
// compliance mode). The mode of an existing lock is kept. Locks (the
// repository's lock files) are never locked.
func (s *S3) Retain(ctx context.Context, tenant string, f File, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.Type == backend.Lock {
		return nil
	}
	what := "extend the retention of " + s.what(tenant, f)
	key := s.key(tenant, f)
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return s.s3Err(err, what)
	}
	until = ceilSecond(until)
	if !until.After(retainUntil(oi)) {
		return nil
	}
	mode := s.mode
	if m := minio.RetentionMode(strings.ToUpper(oi.Metadata.Get("X-Amz-Object-Lock-Mode"))); m.IsValid() {
		mode = m
	}
	err = s.client.PutObjectRetention(ctx, s.bucket, key, minio.PutObjectRetentionOptions{
		Mode:            &mode,
		RetainUntilDate: &until,
		VersionID:       oi.VersionID,
	})
	return s.s3Err(err, what)
}

// Immutable is true: the storage enforces the locks, even against the
// server's own credentials (in governance mode, against any credentials
// without the bypass permission).
func (s *S3) Immutable() bool { return true }
