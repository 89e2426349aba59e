package handlers

import (
	"reflect"
	"testing"
	"time"

	"github.com/accessbot/accessbot/bot"
)

// TestActorPrintEveryField: changing any field of the viewer, however deep,
// changes the print, so a field added to bot.Actor, accessbot.Tenant or
// accessbot.User that actorPrint forgets fails here.
func TestActorPrintEveryField(t *testing.T) {
	var base bot.Actor
	zero := actorPrint(&base)
	if again := actorPrint(&base); again != zero {
		t.Fatalf("the print of one actor changed: %s, %s", zero, again)
	}
	a := bot.Actor{}
	seen := map[string]string{zero: "no field set"}
	check := func(path string) {
		t.Helper()
		p := actorPrint(&a)
		if other, dup := seen[p]; dup {
			t.Errorf("%s: print %s, the same as with %s", path, p, other)
		}
		seen[p] = path
	}
	n := 0
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch {
		case v.Type() == reflect.TypeFor[time.Time]():
			v.Set(reflect.ValueOf(time.Date(2026, 12, 6, 10, 0, 0, 7, time.UTC)))
		case v.Type() == reflect.TypeFor[*time.Time]():
			at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
			v.Set(reflect.ValueOf(&at))
			check(path + " (set)")
			at2 := at.Add(time.Nanosecond)
			v.Set(reflect.ValueOf(&at2))
		case v.Kind() == reflect.Struct:
			for i := range v.NumField() {
				walk(path+"."+v.Type().Field(i).Name, v.Field(i))
			}
			return
		case v.Kind() == reflect.String:
			v.SetString("x")
		default:
			t.Fatalf("%s: a %s field; teach actorPrint and this test about it", path, v.Type())
		}
		n++
		check(path)
		v.Set(reflect.Zero(v.Type()))
	}
	walk("Actor", reflect.ValueOf(&a).Elem())
	if n < 20 {
		t.Fatalf("walked only %d fields", n)
	}
	// Field boundaries count: moving text from one field to the next changes it.
	x, y := bot.Actor{TeamID: "ab"}, bot.Actor{TeamID: "a", SlackUserID: "b"}
	if actorPrint(&x) == actorPrint(&y) {
		t.Errorf("TeamID ab and TeamID a + SlackUserID b print alike")
	}
}
