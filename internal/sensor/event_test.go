package sensor

import (
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"testing"
)

// raw builds a kernel event record.
func raw(kind Kind, set func(b []byte)) []byte {
	b := make([]byte, rawSize)
	binary.LittleEndian.PutUint32(b[offKind:], uint32(kind))
	binary.LittleEndian.PutUint32(b[offPid:], 42)
	copy(b[offComm:], "sh\x00")
	copy(b[offPcomm:], "containerd-shim")
	copy(b[offCgroup:], "cri-containerd-"+cid+".scope")
	copy(b[offCgroup+cgroupNameLen:], "kubepods-besteffort-pod0c8e9f1a_2b3c_4d5e_8f70_8192a3b4c5d6.slice")
	copy(b[offCgroup+2*cgroupNameLen:], "kubepods-besteffort.slice")
	copy(b[offCgroup+3*cgroupNameLen:], "kubepods.slice")
	if set != nil {
		set(b)
	}
	return b
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		check func(t *testing.T, e Event)
		err   bool
	}{
		{name: "exec with argv", in: raw(KindExec, func(b []byte) {
			args := "/bin/sh\x00-c\x00id\x00"
			copy(b[offArgs:], args)
			binary.LittleEndian.PutUint32(b[offArgsLen:], uint32(len(args)))
			copy(b[offPath:], "/bin/sh")
		}), check: func(t *testing.T, e Event) {
			if e.Kind != KindExec || e.PID != 42 || e.Comm != "sh" || e.ParentComm != "containerd-shim" || e.Path != "/bin/sh" ||
				!slices.Equal(e.Args, []string{"/bin/sh", "-c", "id"}) {
				t.Errorf("%+v", e)
			}
			if c := ParseCgroup(e.CgroupPath); c.ID != cid || c.PodUID != puid {
				t.Errorf("cgroup %q parsed as %+v", e.CgroupPath, c)
			}
		}},
		{name: "args length beyond the buffer is clamped", in: raw(KindExec, func(b []byte) {
			binary.LittleEndian.PutUint32(b[offArgsLen:], 1<<30)
			copy(b[offArgs:], "a\x00b")
		}), check: func(t *testing.T, e Event) {
			if !slices.Equal(e.Args, []string{"a", "b"}) {
				t.Errorf("args %q", e.Args)
			}
		}},
		{name: "connect v4", in: raw(KindConnect, func(b []byte) {
			binary.LittleEndian.PutUint16(b[offFamily:], 2)
			binary.LittleEndian.PutUint16(b[offPort:], 443)
			copy(b[offAddr:], []byte{169, 254, 169, 254})
		}), check: func(t *testing.T, e Event) {
			if e.Addr != netip.MustParseAddr("169.254.169.254") || e.Port != 443 {
				t.Errorf("%v:%d", e.Addr, e.Port)
			}
		}},
		{name: "connect v4-mapped v6", in: raw(KindConnect, func(b []byte) {
			binary.LittleEndian.PutUint16(b[offFamily:], 10)
			a := netip.MustParseAddr("::ffff:10.0.0.1").As16()
			copy(b[offAddr:], a[:])
		}), check: func(t *testing.T, e Event) {
			if e.Addr != netip.MustParseAddr("10.0.0.1") {
				t.Errorf("%v", e.Addr)
			}
		}},
		{name: "root cgroup", in: raw(KindOpen, func(b []byte) {
			clear(b[offCgroup : offCgroup+cgroupLevels*cgroupNameLen])
		}), check: func(t *testing.T, e Event) {
			if e.CgroupPath != "/" {
				t.Errorf("cgroup %q", e.CgroupPath)
			}
		}},
		{name: "short", in: make([]byte, 10), err: true},
		{name: "unknown kind", in: raw(99, nil), err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Decode(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(raw(KindExec, nil))
	f.Add(raw(KindConnect, nil))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Decode(b)
	})
}

func TestKubeletPods(t *testing.T) {
	var calls int
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		switch r.Header.Get("Authorization") {
		case "":
			_, _ = w.Write([]byte(`{"items":[{"metadata":{"name":"job-abc","namespace":"batch","uid":"` + puid + `",
				"ownerReferences":[{"kind":"Job","name":"job","controller":true}]},
				"spec":{"containers":[{"name":"c","image":"busybox"}],"initContainers":[{"name":"i","image":"alpine"}]},
				"status":{"containerStatuses":[{"name":"c","containerID":"cri-o://` + cid + `","imageID":"sha256:ff"}]}}]}`))
		default:
			http.Error(w, "no", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	kp, err := NewKubeletPods(srv.URL, KubeletOptions{Client: srv.Client(), MinRefresh: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := kp.Pod(t.Context(), puid)
	if !ok || p.Name != "job-abc" || p.WorkloadKind != "Job" || p.WorkloadName != "job" || p.Containers[cid].Image != "busybox" ||
		!slices.Equal(p.Images, []string{"alpine", "busybox"}) {
		t.Fatalf("pod %+v, %v", p, ok)
	}
	// An unknown pod within MinRefresh does not refetch.
	if _, ok := kp.Pod(t.Context(), "00000000-0000-0000-0000-000000000000"); ok || calls != 1 {
		t.Errorf("unknown pod found=%v after %d calls", ok, calls)
	}

	bad, err := NewKubeletPods("https://127.0.0.1:1", KubeletOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := bad.Pod(t.Context(), puid); ok || bad.Err() == nil {
		t.Errorf("unreachable kubelet: found=%v err=%v", ok, bad.Err())
	}
}
