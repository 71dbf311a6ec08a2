//go:build !purego

package p256

const purego = false
