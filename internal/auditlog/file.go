package auditlog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rampart-dev/rampart/internal/report"
)

// Handler receives one event read from a log; line is its 1-based line in
// the file being read.
type Handler func(ev *Event, line int)

// MaxInputErrors bounds the decode errors a read keeps (the rest are
// counted in Stats.Errors).
const MaxInputErrors = 100

// Stats count what a read saw.
type Stats struct {
	// Lines counts non-empty lines read.
	Lines int
	// Events counts events decoded and handed on.
	Events int
	// Errors counts lines that were not audit events.
	Errors int
	// InputErrors are the first MaxInputErrors of them, each naming
	// file:line.
	InputErrors []report.InputError
}

func (s *Stats) fail(name string, line int, err error) {
	s.Errors++
	if len(s.InputErrors) < MaxInputErrors {
		s.InputErrors = append(s.InputErrors, report.InputError{File: name, Line: line, Message: err.Error()})
	}
}

// lineReader reads lines of at most MaxEventSize bytes; a longer line is
// skipped (and reported).
type lineReader struct {
	r    *bufio.Reader
	buf  []byte
	line int
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 256<<10)}
}

var errTooLong = fmt.Errorf("event longer than %d bytes: skipped", MaxEventSize)

// next returns the next complete line (without its newline). At the end of
// the input it returns the partial last line, if any, with io.EOF; a
// follower keeps it and completes it when more data arrives.
func (l *lineReader) next() ([]byte, error) {
	l.buf = l.buf[:0]
	tooLong := false
	for {
		chunk, err := l.r.ReadSlice('\n')
		if !tooLong {
			if len(l.buf)+len(chunk) > MaxEventSize+1 {
				tooLong = true
				l.buf = l.buf[:0]
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			l.line++
			if tooLong {
				return nil, errTooLong
			}
			return bytes.TrimRight(l.buf, "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return l.buf, err
		}
	}
}

// Replay reads a JSON-lines audit log once from r (name is used in errors)
// and hands every event to fn, in order. Lines that are not audit events
// are counted and reported with their line; blank lines are skipped.
func Replay(ctx context.Context, r io.Reader, name string, fn Handler) (Stats, error) {
	var st Stats
	lr := newLineReader(r)
	var ev Event
	for {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		line, err := lr.next()
		if errors.Is(err, errTooLong) {
			st.Lines++
			st.fail(name, lr.line, err)
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return st, fmt.Errorf("%s: %w", name, err)
		}
		final := err != nil
		if final && len(line) > 0 {
			lr.line++
		}
		if len(bytes.TrimSpace(line)) > 0 {
			st.Lines++
			// The line's buffer is reused for the next line only after fn
			// returns: the event may share it.
			if derr := decodeEvent(line, &ev, true); derr != nil {
				st.fail(name, lr.line, derr)
			} else {
				st.Events++
				fn(&ev, lr.line)
			}
		}
		if final {
			return st, nil
		}
	}
}

// FollowOptions configure Follow.
type FollowOptions struct {
	// Poll is how often the file is checked for new data and rotation
	// when it has none (default 250 ms).
	Poll time.Duration
	// FromStart reads the file from its beginning; otherwise reading
	// starts at its end (only new events).
	FromStart bool
	// OnError receives lines that are not audit events.
	OnError func(report.InputError)
	// OnRotate is told about each rotation seen ("rename" or "truncate").
	OnRotate func(kind string)
}

// Follow reads a JSON-lines audit log as it grows, like tail -F, until
// ctx ends, handing every event to fn. It follows rotation:
//   - rename and create (logrotate's default, the API server's
//     --audit-log-maxsize): the rest of the renamed file is read, then the
//     new file from its start;
//   - copytruncate: when the file shrinks below the offset read, reading
//     restarts at its start.
//
// A partial last line is held until its newline arrives. Rotation is
// noticed when the file has no new data; a copytruncate that is followed
// by more new data than was read before the truncation, before Follow
// looks, cannot be told from growth (a limitation of copytruncate).
func Follow(ctx context.Context, path string, opts FollowOptions, fn Handler) error {
	if opts.Poll <= 0 {
		opts.Poll = 250 * time.Millisecond
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	if !opts.FromStart {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			return err
		}
	}
	lr := newLineReader(f)
	var partial []byte
	var ev Event
	ticker := time.NewTicker(opts.Poll)
	defer ticker.Stop()
	handle := func(line []byte) {
		if len(bytes.TrimSpace(line)) == 0 {
			return
		}
		if derr := decodeEvent(line, &ev, true); derr != nil {
			if opts.OnError != nil {
				opts.OnError(report.InputError{File: path, Line: lr.line, Message: derr.Error()})
			}
			return
		}
		fn(&ev, lr.line)
	}
	// drain reads every complete line available; it returns at EOF.
	drain := func() error {
		for {
			line, err := lr.next()
			if errors.Is(err, errTooLong) {
				if opts.OnError != nil {
					opts.OnError(report.InputError{File: path, Line: lr.line, Message: err.Error()})
				}
				continue
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			if err != nil {
				partial = append(partial, line...)
				return nil
			}
			if len(partial) > 0 {
				line = append(partial, line...)
				partial = partial[:0]
			}
			handle(line)
		}
	}
	for {
		if err := drain(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		pos, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return err
		}
		offset := pos - int64(lr.r.Buffered())
		rotated, kind, err := checkRotation(f, path, offset)
		if err != nil {
			return err
		}
		switch kind {
		case "rename":
			// The rest of the old file was drained above; switch.
			f.Close()
			f = rotated
			lr = newLineReader(f)
			partial = partial[:0]
			if opts.OnRotate != nil {
				opts.OnRotate(kind)
			}
			continue
		case "truncate":
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			lr = newLineReader(f)
			partial = partial[:0]
			if opts.OnRotate != nil {
				opts.OnRotate(kind)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// checkRotation looks at path and the open file f read up to offset: a
// different file at path is a rename rotation (returned open), a file
// shorter than offset was truncated.
func checkRotation(f *os.File, path string, offset int64) (*os.File, string, error) {
	// path first, then the open file: once a new file is at path, the
	// writer has moved on, and a size of the old file read after that
	// includes everything written to it (read before, it could miss the
	// old file's last writes and switch without them).
	st, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, "", nil // between rename and create
		}
		return nil, "", err
	}
	cur, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	if !os.SameFile(cur, st) {
		// Read what was appended to the old file after the last drain
		// before switching: the caller drains again first.
		if cur.Size() > offset {
			return nil, "", nil
		}
		nf, err := os.Open(path)
		if err != nil {
			if os.IsNotExist(err) {
				return nil, "", nil
			}
			return nil, "", err
		}
		return nf, "rename", nil
	}
	if cur.Size() < offset {
		return nil, "truncate", nil
	}
	return nil, "", nil
}
