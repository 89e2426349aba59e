package config

import (
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisTimeout bounds dialling and each read and write on a Redis connection
// unless the URL sets its own (dial_timeout, read_timeout, write_timeout).
// accessbot's Redis calls are single small commands, so a healthy server
// answers in milliseconds.
const RedisTimeout = 2 * time.Second

// RedisOptions parses a Redis URL into client options every Redis client in
// accessbot is built from. ContextTimeoutEnabled makes a caller's deadline
// (such as /readyz's 2 s check) reach the socket; without it go-redis waits
// out its own read timeout whatever the context says. The error never quotes
// the URL, which may hold a password.
func RedisOptions(url string) (*redis.Options, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("not a valid Redis URL such as redis://127.0.0.1:6379/0 or rediss://:PASSWORD@HOST:6380/0")
	}
	opts.ContextTimeoutEnabled = true
	for _, d := range []*time.Duration{&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout} {
		if *d == 0 {
			*d = RedisTimeout
		}
	}
	return opts, nil
}

// ClientOptions is RedisOptions for redis.url.
func (r Redis) ClientOptions() (*redis.Options, error) { return RedisOptions(r.URL.Reveal()) }
