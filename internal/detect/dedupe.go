package detect

import (
	"container/list"
	"sync"
	"time"
)

// DefaultCooldown is the cooldown of rules that set none.
const DefaultCooldown = time.Minute

// DefaultMaxKeys bounds the dedupe state.
const DefaultMaxKeys = 10000

// Deduper folds repeated alerts. The first alert of a key is emitted; the
// repeats within the key's cooldown are counted and the count is folded into
// the next emission of the key once the cooldown has passed, or into a
// summary emission when the cooldown ends (Tick) or the key is evicted
// (Flush, or the least recently seen key when there are more than maxKeys).
// Cooldowns are measured in event time, so a replay dedupes as the live
// stream would. It is safe for concurrent use.
type Deduper struct {
	mu       sync.Mutex
	cooldown time.Duration
	rules    map[string]time.Duration
	max      int
	lru      *list.List // of *entry, most recent at the front
	keys     map[string]*list.Element
}

type entry struct {
	key        string
	windowEnd  time.Time // end of the current cooldown
	suppressed int       // repeats since the last emission
	first      time.Time // first suppressed event
	last       Alert     // last suppressed alert
}

// NewDeduper returns a deduper with a default cooldown (DefaultCooldown
// when 0), per-rule cooldowns that override it (rule ID → cooldown; a
// negative cooldown disables dedupe for the rule) and a bound on the number
// of keys kept (DefaultMaxKeys when 0).
func NewDeduper(cooldown time.Duration, rules map[string]time.Duration, maxKeys int) *Deduper {
	if cooldown == 0 {
		cooldown = DefaultCooldown
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Deduper{cooldown: cooldown, rules: rules, max: maxKeys, lru: list.New(), keys: map[string]*list.Element{}}
}

// Cooldowns returns the per-rule cooldowns of rules (those that set one).
func Cooldowns(rules []*Rule) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, r := range rules {
		if r.Dedupe.Cooldown > 0 {
			out[r.ID] = time.Duration(r.Dedupe.Cooldown)
		}
	}
	return out
}

func (d *Deduper) cooldownOf(rule string) time.Duration {
	if c, ok := d.rules[rule]; ok {
		return c
	}
	return d.cooldown
}

// Offer takes one alert (Count 1) and returns what to emit now: the alert
// itself (with the count of repeats folded in), a summary of an evicted key,
// or nothing when the alert is a repeat within its key's cooldown.
func (d *Deduper) Offer(a Alert) []Alert {
	cd := d.cooldownOf(a.Rule)
	if cd <= 0 || a.Key == "" {
		return []Alert{a}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if el, ok := d.keys[a.Key]; ok {
		e := el.Value.(*entry)
		d.lru.MoveToFront(el)
		if a.Time.Before(e.windowEnd) {
			if e.suppressed == 0 {
				e.first = a.Time
			}
			e.suppressed++
			e.last = a
			return nil
		}
		if e.suppressed > 0 {
			a.Count += e.suppressed
			a.FirstSeen = e.first
			e.suppressed = 0
			e.last = Alert{}
		}
		e.windowEnd = a.Time.Add(cd)
		return []Alert{a}
	}
	out := []Alert{a}
	d.keys[a.Key] = d.lru.PushFront(&entry{key: a.Key, windowEnd: a.Time.Add(cd)})
	for d.lru.Len() > d.max {
		e := d.lru.Remove(d.lru.Back()).(*entry)
		delete(d.keys, e.key)
		if e.suppressed > 0 {
			out = append(out, summary(e))
		}
	}
	return out
}

func summary(e *entry) Alert {
	s := e.last
	s.Count = e.suppressed
	s.FirstSeen = e.first
	return s
}

// Tick emits a summary for every key whose cooldown ended before now with
// repeats counted, and forgets keys whose cooldown ended with none.
func (d *Deduper) Tick(now time.Time) []Alert {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Alert
	for el := d.lru.Back(); el != nil; {
		prev := el.Prev()
		e := el.Value.(*entry)
		if !now.Before(e.windowEnd) {
			if e.suppressed > 0 {
				out = append(out, summary(e))
			}
			d.lru.Remove(el)
			delete(d.keys, e.key)
		}
		el = prev
	}
	return out
}

// Flush emits a summary for every key with repeats counted and forgets all
// keys (at the end of a replay or on shutdown).
func (d *Deduper) Flush() []Alert {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Alert
	for el := d.lru.Back(); el != nil; el = el.Prev() {
		if e := el.Value.(*entry); e.suppressed > 0 {
			out = append(out, summary(e))
		}
	}
	d.lru.Init()
	clear(d.keys)
	return out
}

// Len returns the number of keys kept.
func (d *Deduper) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lru.Len()
}
