package k8s

import "testing"

func TestEntryRetainsRBACFields(t *testing.T) {
	tests := []struct {
		name   string
		obj    map[string]any
		fields []string
	}{
		{"ClusterRole", map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": map[string]any{"name": "r", "labels": map[string]any{"a": "b"}},
			"rules": []any{map[string]any{"verbs": []any{"get"}}}, "aggregationRule": map[string]any{"clusterRoleSelectors": []any{}}}, []string{"rules", "aggregationRule"}},
		{"RoleBinding", map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": map[string]any{"name": "b", "namespace": "x"},
			"roleRef": map[string]any{"kind": "Role", "name": "r"}, "subjects": []any{map[string]any{"kind": "User", "name": "u"}}}, []string{"roleRef", "subjects"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := EntryFor(NewObject(tt.obj, Source{File: "f"})).Content()
			if c == nil {
				t.Fatal("no content retained")
			}
			for _, f := range tt.fields {
				if _, ok := c[f]; !ok {
					t.Errorf("%s not retained: %v", f, c)
				}
			}
			if Str(c, "kind") != tt.name || Map(c, "metadata") == nil {
				t.Errorf("kind or metadata missing: %v", c)
			}
		})
	}
}
