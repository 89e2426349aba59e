package findings

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxRuleName is the longest external rule name, in characters.
const MaxRuleName = 100

// ruleNamePunct is the punctuation an external rule name may use besides
// letters, digits and spaces: enough for "aws:iam/root-key" or "CIS 1.4
// (root MFA)", and none of Slack's markup (< > & | * ~ ` @ !).
const ruleNamePunct = "_-.:/#()+"

// CheckRuleName checks an external rule name (findings API and findings
// file): 1 to MaxRuleName characters, starting with a letter or digit, of
// letters, digits, spaces and ruleNamePunct. Rule names are shown in Slack;
// this keeps them from carrying markup and from flooding a message.
func CheckRuleName(name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		return fmt.Errorf("required")
	case n > MaxRuleName:
		return fmt.Errorf("%d characters; at most %d", n, MaxRuleName)
	}
	var bad []string
	seen := map[rune]bool{}
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || strings.ContainsRune(ruleNamePunct, r) || seen[r] {
			continue
		}
		seen[r] = true
		bad = append(bad, strconv.Quote(string(r)))
	}
	if len(bad) > 0 {
		return fmt.Errorf("may not contain %s; use letters, digits, spaces and %s", strings.Join(bad, ", "),
			strings.Join(strings.Split(ruleNamePunct, ""), " "))
	}
	if first, _ := utf8.DecodeRuneInString(name); !unicode.IsLetter(first) && !unicode.IsDigit(first) {
		return fmt.Errorf("must start with a letter or digit")
	}
	return nil
}
