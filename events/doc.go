// Package events is Tinman's public record: the CloudEvents 1.0 envelope,
// event types and NATS subjects, the JetStream streams declared as data, the
// publisher and its Redis outbox, and the watcher that follows the stream.
//
// Events carry no credentials, ever: their data is built from jobs types,
// which hold none.
package events
