package kubernetes

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// decode reads a multi-document YAML file into the typed objects, strictly:
// an unknown or misspelt field is an error.
func decode(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := Manifests.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for i, doc := range bytes.Split(b, []byte("\n---\n")) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s document %d: %v", name, i, err)
		}
		var obj any
		switch meta.Kind {
		case "Job":
			obj = new(batchv1.Job)
		case "Deployment":
			obj = new(appsv1.Deployment)
		case "Service":
			obj = new(corev1.Service)
		case "Secret":
			obj = new(corev1.Secret)
		default:
			t.Fatalf("%s document %d: unexpected kind %q", name, i, meta.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s document %d (%s): %v", name, i, meta.Kind, err)
		}
		out[meta.Kind] = obj
	}
	return out
}

func mountOf(c *corev1.Container, volume string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == volume {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

func volumeOf(spec *corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

func hardened(t *testing.T, c *corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("container %s is not locked down: %+v", c.Name, sc)
	}
}

func TestHashJob(t *testing.T) {
	job := decode(t, "hash-job.yaml")["Job"].(*batchv1.Job)
	s := &job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Fatal("the hashing Job is not Indexed")
	}
	if s.Completions == nil || s.Parallelism == nil || *s.Parallelism != *s.Completions {
		t.Errorf("completions %v, parallelism %v: want one pod per shard, all at once", s.Completions, s.Parallelism)
	}
	if s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex < 1 {
		t.Error("a failed shard is not retried on its own (backoffLimitPerIndex)")
	}
	pod := &s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %s: backoffLimitPerIndex needs Never", pod.RestartPolicy)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := &pod.Containers[0]
	hardened(t, c)
	cmd := strings.Join(append(c.Command, c.Args...), " ")
	for _, want := range []string{
		"vouchsafe hash ",
		fmt.Sprintf("--shards %d ", *s.Completions), // as many shards as indexes
		"--resume",
		"-o /out/shard-$(JOB_COMPLETION_INDEX).jsonl", // one output per shard
		" /photos",
		"--device cuda",
	} {
		if !strings.Contains(cmd, want) {
			t.Errorf("the hash command %q lacks %q", cmd, want)
		}
	}
	// $(JOB_COMPLETION_INDEX) in args expands only from the container's env.
	var idx *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "JOB_COMPLETION_INDEX" {
			idx = &c.Env[i]
		}
	}
	if idx == nil || idx.ValueFrom == nil || idx.ValueFrom.FieldRef == nil ||
		idx.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("JOB_COMPLETION_INDEX is not taken from the pod's completion index: %+v", idx)
	}
	for _, rl := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
		if q, ok := rl["nvidia.com/gpu"]; !ok || q.Value() != 1 {
			t.Errorf("GPU request/limit %v, want 1", q)
		}
	}
	if m := mountOf(c, "photos"); m == nil || m.MountPath != "/photos" || !m.ReadOnly {
		t.Errorf("photo volume mount %+v: want /photos read-only", m)
	}
	if v := volumeOf(pod, "photos"); v == nil || v.PersistentVolumeClaim == nil || !v.PersistentVolumeClaim.ReadOnly {
		t.Errorf("photo volume %+v: want a read-only claim", v)
	}
	if m := mountOf(c, "out"); m == nil || m.MountPath != "/out" || m.ReadOnly {
		t.Errorf("output mount %+v: want /out, writable", m)
	}
	if v := volumeOf(pod, "out"); v == nil || v.PersistentVolumeClaim == nil {
		t.Errorf("output volume %+v: want a claim that outlives the pods", v)
	}
}

func TestReconstructor(t *testing.T) {
	objs := decode(t, "reconstructor.yaml")
	dep := objs["Deployment"].(*appsv1.Deployment)
	svc := objs["Service"].(*corev1.Service)
	sec := objs["Secret"].(*corev1.Secret)

	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
		t.Errorf("replicas %v: want several instances on the shared database", dep.Spec.Replicas)
	}
	labels := dep.Spec.Template.Labels
	for k, v := range dep.Spec.Selector.MatchLabels {
		if labels[k] != v {
			t.Errorf("the Deployment's selector %s=%s misses its pods", k, v)
		}
	}
	for k, v := range svc.Spec.Selector {
		if labels[k] != v {
			t.Errorf("the Service's selector %s=%s misses the pods", k, v)
		}
	}
	pod := &dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := &pod.Containers[0]
	hardened(t, c)
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8080 {
		t.Fatalf("ports %+v", c.Ports)
	}
	port := c.Ports[0]
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != port.Name {
		t.Errorf("the Service targets %+v, not the container's port %s", svc.Spec.Ports, port.Name)
	}
	args := strings.Join(append(c.Command, c.Args...), " ")
	for _, want := range []string{"vouchsafe serve", "--listen=0.0.0.0:8080", "--store=$(VOUCHSAFE_STORE)", "--tokens=/secrets/tokens", "--key=/secrets/"} {
		if !strings.Contains(args, want) {
			t.Errorf("serve arguments %q lack %q", args, want)
		}
	}
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != port.Name {
			t.Errorf("%s probe %+v: want GET /healthz on %s", name, p, port.Name)
		}
	}
	// The database URL comes from the Secret, never from the manifest.
	var store *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "VOUCHSAFE_STORE" {
			store = &c.Env[i]
		}
	}
	if store == nil || store.Value != "" || store.ValueFrom == nil || store.ValueFrom.SecretKeyRef == nil {
		t.Fatalf("VOUCHSAFE_STORE %+v: want a secretKeyRef", store)
	}
	ref := store.ValueFrom.SecretKeyRef
	if ref.Name != sec.Name {
		t.Errorf("the store URL comes from Secret %s, not %s", ref.Name, sec.Name)
	}
	for _, key := range []string{ref.Key, "tokens"} {
		if _, ok := sec.StringData[key]; !ok {
			t.Errorf("Secret %s has no %s", sec.Name, key)
		}
	}
	if u := sec.StringData[ref.Key]; !strings.HasPrefix(u, "postgres://") {
		t.Errorf("database-url %q is not a postgres:// URL", u)
	}
	// Secret files reach the service mode 0600 through the init container.
	if m := mountOf(c, "secrets"); m == nil || m.MountPath != "/secrets" || !m.ReadOnly {
		t.Errorf("secrets mount %+v", m)
	}
	if v := volumeOf(pod, "secrets"); v == nil || v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory {
		t.Errorf("secrets volume %+v: want a memory-backed emptyDir", v)
	}
	if len(pod.InitContainers) != 1 || !strings.Contains(strings.Join(pod.InitContainers[0].Args, " "), "install -m 0600") {
		t.Errorf("no init container installing the secrets mode 0600: %+v", pod.InitContainers)
	}
	if v := volumeOf(pod, "tokens-in"); v == nil || v.Secret == nil || v.Secret.SecretName != sec.Name {
		t.Errorf("tokens volume %+v: want Secret %s", v, sec.Name)
	}
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("the service may run as root")
	}
	if pod.TerminationGracePeriodSeconds == nil || *pod.TerminationGracePeriodSeconds <= 30 {
		t.Error("the grace period does not cover serve's 30 s shutdown timeout")
	}
}
