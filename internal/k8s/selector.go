package k8s

import "strconv"

// MatchLabelSelector reports whether labels satisfy a metav1.LabelSelector
// given as unstructured data. A nil selector matches nothing; an empty one
// matches everything. Malformed selectors match nothing.
func MatchLabelSelector(sel map[string]any, labels map[string]string) bool {
	if sel == nil {
		return false
	}
	// Read matchLabels in place, converting values as StringMap does, so that
	// matching allocates nothing: cross-object controls call this for every
	// (selector, pod) pair of a namespace.
	for k, raw := range Map(sel, "matchLabels") {
		lv, ok := labels[k]
		switch v := raw.(type) {
		case string:
			ok = ok && lv == v
		case bool:
			ok = ok && lv == strconv.FormatBool(v)
		case int64:
			ok = ok && lv == strconv.FormatInt(v, 10)
		default:
			continue // StringMap drops other values
		}
		if !ok {
			return false
		}
	}
	for _, item := range Slice(sel, "matchExpressions") {
		expr, ok := item.(map[string]any)
		if !ok {
			return false
		}
		key := Str(expr, "key")
		values := Strings(expr, "values")
		lv, has := labels[key]
		switch Str(expr, "operator") {
		case "In":
			if !has || !contains(values, lv) {
				return false
			}
		case "NotIn":
			if has && contains(values, lv) {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// MatchSelectorMap reports whether labels satisfy an equality-based selector
// such as a Service's spec.selector. An empty selector matches nothing.
func MatchSelectorMap(sel map[string]string, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
