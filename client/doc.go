// Package client drives Tinman from Go: a Client calls the HTTP API (jobs
// and servers, typed), Publish puts a job request on NATS, and Follow
// follows one job's events to its end. The tinman command's operator
// commands are built on it, and package api answers with its wire types
// (Submitted, JobList, ServerList, Enrolment, ServerPatch, Problem), so
// both ends read one definition.
//
// A Client call returns the decoded answer, the Response as sent (for a
// caller that prints the API's own JSON), and an error:
//
//   - *Error (errors.As): the API answered with an error status; Status,
//     Code and Field say why (a 4xx refused the call, a 5xx could not serve it);
//   - *CallError wrapping ErrUnreachable (errors.Is): no answer came: the
//     API is down, too slow, or the network failed;
//   - *CallError wrapping ErrUnexpectedAnswer: a success answer this client
//     cannot read (an API of another version?);
//   - *CallError wrapping the context's error: the caller's context ended.
//
// Follow reads the event stream TINMAN_EVENTS through an ordered consumer
// and returns the job's end: succeeded, failed, canceled, or rejected when
// a dispatcher refused the request.
//
// The package imports jobs, events and submit of Tinman, never api, store
// or Redis: a program that drives Tinman does not build its server.
package client
