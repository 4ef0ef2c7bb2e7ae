//go:build !unix

package store

// noFollow is unix's O_NOFOLLOW; elsewhere only the look before the open
// guards against a link.
const noFollow = 0
