// Package dispatch turns requests into work: a durable pull consumer on
// TINMAN_REQUESTS, shared by any number of dispatcher processes, validates
// each request, records the job and its queued event, enqueues the asynq task
// whose TaskID is the job id, and only then acks. Requests that arrive
// together are handled together: their servers read in one Redis round
// trip, their jobs recorded in another, their queued events' acks awaited
// together. A request that cannot be
// handled now (Redis or NATS down) is nak'ed with a delay and comes back; an
// invalid one is rejected with an event that names the field, then terminated.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/internal/confcheck"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/workers"
)

// Config configures a Dispatcher: start from DefaultConfig, New refuses a
// zero or negative setting.
type Config struct {
	// Durable is the consumer shared by every dispatcher (default "tinman-dispatcher").
	Durable string
	// Concurrency is how many requests one process handles at once (default 32).
	Concurrency int
	// BatchSize is how many of those are handled together, at most
	// (default 16, and never more than Concurrency): Concurrency/BatchSize
	// batches run at once.
	BatchSize int
	// AckWait is how long a request may stay unacked before redelivery (default 30 s).
	AckWait time.Duration
	// NakDelay is the first redelivery delay after a transient failure; it
	// doubles with each delivery up to MaxNakDelay (defaults 1 s and 30 s).
	NakDelay, MaxNakDelay time.Duration
	// Retention keeps a finished task in asynq so a late duplicate conflicts
	// with it; at least the streams' duplicate window (default 2 h).
	Retention time.Duration
	// Retry gives each job type its attempts and timeout (default workers.DefaultRetryPolicy).
	Retry workers.RetryPolicy
	// Source is the CloudEvents source of rejections (default "/tinman/dispatcher").
	Source string
	// MaxBatchSize bounds a deploy's batch_size (default 1000).
	MaxBatchSize int
	// Waker wakes a deploy whose last running job was rejected (nil: the
	// deploy finds out at its next poll).
	Waker Waker
	// Logger receives the dispatcher's logs.
	Logger zerolog.Logger
	// Metrics receives the dispatcher's series (nil: none).
	Metrics *Metrics
}

// DefaultConfig returns the documented defaults; change what you need and
// give it to New.
func DefaultConfig() Config {
	return Config{
		Durable:      "tinman-dispatcher",
		Concurrency:  32,
		BatchSize:    16,
		AckWait:      30 * time.Second,
		NakDelay:     time.Second,
		MaxNakDelay:  30 * time.Second,
		Retention:    2 * time.Hour,
		Retry:        workers.DefaultRetryPolicy(),
		Source:       "/tinman/dispatcher",
		MaxBatchSize: 1000,
		Logger:       zerolog.Nop(),
	}
}

// Validate names every field of c that cannot be used.
func (c Config) Validate() error {
	v := confcheck.For("dispatch.Config")
	v.Require(c.Durable != "" && !strings.ContainsAny(c.Durable, ".*> \t\r\n"), "Durable", c.Durable, "must be a JetStream consumer name: no spaces, dots, * or >")
	confcheck.Positive(v, "Concurrency", c.Concurrency)
	confcheck.Positive(v, "BatchSize", c.BatchSize)
	confcheck.Positive(v, "AckWait", c.AckWait)
	confcheck.Positive(v, "NakDelay", c.NakDelay)
	v.Require(c.MaxNakDelay >= c.NakDelay, "MaxNakDelay", c.MaxNakDelay, "must be NakDelay or more")
	confcheck.Positive(v, "Retention", c.Retention)
	confcheck.Positive(v, "MaxBatchSize", c.MaxBatchSize)
	v.Present("Source", c.Source)
	if err := c.Retry.Validate(); err != nil {
		return errors.Join(v.Err(), err)
	}
	return v.Err()
}

// Validator checks a raw request against its schema.
type Validator interface {
	Request(data []byte) error
}

// Store records accepted jobs and knows the servers.
type Store interface {
	// AcceptAll records jobs, each with its queued event, and sends the
	// events; each says whether its job still needs to be enqueued.
	AcceptAll(ctx context.Context, all []jobs.Job) []store.Accepted
	// ForAdmission reads whether each of jobIDs has a job record, and the
	// servers of serverIDs that are enrolled.
	ForAdmission(ctx context.Context, jobIDs, serverIDs []string) ([]bool, []jobs.Server, error)
	TransitionServer(ctx context.Context, id string, from []jobs.ServerState, to jobs.ServerState, jobID, reason string) (jobs.Server, error)
	RejectSubmitted(ctx context.Context, id string, cause *jobs.Error) error
	Image(ctx context.Context, name string) (jobs.Image, error)
	DeployStore
}

// Enqueuer puts tasks on the asynq queues.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Dispatcher moves requests from NATS to the asynq queues.
type Dispatcher struct {
	cfg       Config
	js        jetstream.JetStream
	store     Store
	queue     Enqueuer
	validator Validator
	pub       *events.Publisher
}

// New returns a Dispatcher, or an error naming what of its arguments and
// cfg cannot be used (start from DefaultConfig).
func New(js jetstream.JetStream, store Store, queue Enqueuer, v Validator, cfg Config) (*Dispatcher, error) {
	c := confcheck.For("dispatch.New")
	c.Present("js", js)
	c.Present("store", store)
	c.Present("queue", queue)
	c.Present("validator", v)
	if err := errors.Join(c.Err(), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("dispatcher: %w", err)
	}
	cfg.Logger = cfg.Logger.With().Str("component", "dispatcher").Logger()
	return &Dispatcher{cfg: cfg, js: js, store: store, queue: queue, validator: v, pub: events.NewPublisher(js)}, nil
}

// ConsumerConfig is the durable consumer every dispatcher shares.
func (d *Dispatcher) ConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       d.cfg.Durable,
		Description:   "Tinman dispatchers: requests to asynq tasks",
		FilterSubject: events.RequestPrefix + ">",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       d.cfg.AckWait,
		MaxDeliver:    -1, // a request is never dropped for being retried too often
		MaxAckPending: 4 * d.cfg.Concurrency,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// Run consumes requests until ctx ends. On the way out it stops fetching and
// lets every request in hand finish: each is acked, nak'ed or terminated.
func (d *Dispatcher) Run(ctx context.Context) error {
	cons, err := d.consumer(ctx)
	if err != nil || cons == nil {
		return err
	}
	size := min(d.cfg.BatchSize, d.cfg.Concurrency)
	work := make(chan jetstream.Msg, size)
	var wg sync.WaitGroup
	for range d.cfg.Concurrency / size {
		wg.Go(func() {
			for batch := take(work, size); len(batch) > 0; batch = take(work, size) {
				d.handle(context.WithoutCancel(ctx), batch)
			}
		})
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) { work <- msg },
		jetstream.PullMaxMessages(2*d.cfg.Concurrency),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			d.cfg.Logger.Warn().Err(err).Msg("request consumer")
		}))
	if err != nil {
		close(work)
		wg.Wait()
		return fmt.Errorf("consume requests: %w", err)
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
	close(work)
	wg.Wait()
	return nil
}

// consumer creates (or finds) the shared consumer, trying again while
// JetStream does not answer: a broker restart during start-up is waited
// out. It returns nil, nil when ctx ends first.
func (d *Dispatcher) consumer(ctx context.Context) (jetstream.Consumer, error) {
	for delay := 250 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cons, err := d.js.CreateOrUpdateConsumer(actx, events.RequestsStream, d.ConsumerConfig())
		cancel()
		if err == nil {
			return cons, nil
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("create dispatcher consumer: %w", err)
		}
		d.cfg.Logger.Warn().Err(err).Dur("retry_in_ms", delay).Msg("create dispatcher consumer")
		select {
		case <-ctx.Done():
			return nil, nil // stopped while starting
		case <-time.After(delay):
		}
	}
}

// take waits for a request and takes those that came with it, up to
// size: a batch never waits for more. It returns none once work is closed
// and empty.
func take(work <-chan jetstream.Msg, size int) []jetstream.Msg {
	msg, ok := <-work
	if !ok {
		return nil
	}
	batch := []jetstream.Msg{msg}
	for len(batch) < size {
		select {
		case msg, ok := <-work:
			if !ok {
				return batch
			}
			batch = append(batch, msg)
		default:
			return batch
		}
	}
	return batch
}

// request is one request of a batch on its way: decoded, then admitted
// (job set), then recorded; err is set by the first step that fails.
type request struct {
	msg  jetstream.Msg
	meta *jetstream.MsgMetadata
	req  jobs.Request
	log  zerolog.Logger
	job  jobs.Job
	// enqueue says the recorded job still needs its task.
	enqueue bool
	err     error
}

// handle takes a batch of requests to their end, each acked, nak'ed with
// a delay or terminated on its own: decoded one by one, their servers read
// together, admitted one by one, recorded together, enqueued one by one.
func (d *Dispatcher) handle(ctx context.Context, batch []jetstream.Msg) {
	rs := make([]*request, 0, len(batch))
	for _, msg := range batch {
		if r := d.open(ctx, msg); r != nil {
			rs = append(rs, r)
		}
	}
	d.admitAll(ctx, rs)
	d.acceptAll(ctx, rs)
	for _, r := range rs {
		if r.err == nil {
			r.err = d.enqueue(ctx, r)
		}
		d.finish(ctx, r)
	}
}

// open reads a request's delivery and decodes it; it returns nil for one
// that has ended already: without metadata (terminated) or invalid
// (rejected).
func (d *Dispatcher) open(ctx context.Context, msg jetstream.Msg) *request {
	meta, err := msg.Metadata()
	if err != nil {
		d.cfg.Logger.Error().Err(err).Str("subject", msg.Subject()).Msg("request without metadata")
		_ = msg.Term()
		return nil
	}
	d.cfg.Metrics.delivered(meta.NumDelivered)
	req, err := d.decode(msg, meta)
	if err != nil {
		d.reject(ctx, msg, meta, req, err)
		return nil
	}
	log := d.cfg.Logger.With().Str("subject", msg.Subject()).Str("job_id", req.ID).Str("server", req.Server).Str("type", string(req.Type)).Logger()
	return &request{msg: msg, meta: meta, req: req, log: log}
}

// finish ends a request as its err says: a refusal rejects it, another
// failure brings it back later, none acks it.
func (d *Dispatcher) finish(ctx context.Context, r *request) {
	if refused := new(jobs.Error); errors.As(r.err, &refused) && !refused.Retryable {
		d.reject(ctx, r.msg, r.meta, r.req, refused)
		return
	}
	if r.err != nil {
		delay := d.nakDelay(r.meta.NumDelivered)
		r.log.Warn().Err(r.err).Dur("retry_in_ms", delay).Uint64("delivery", r.meta.NumDelivered).Msg("request not dispatched: will come back")
		d.cfg.Metrics.nak(delay)
		_ = r.msg.NakWithDelay(delay)
		return
	}
	d.cfg.Metrics.accept()
	// A plain ack: waiting for its confirmation would cost a round trip per
	// request, and a lost ack only brings a redelivery that Accept recognises.
	if err := r.msg.Ack(); err != nil {
		r.log.Warn().Err(err).Msg("ack request (a redelivery will be recognised as a duplicate)")
	}
}

// decode validates the request and gives it its job id. Keys given twice
// and strings that are not text are refused first, as published: filling
// in the type rewrites the request, and the schema validator would read
// them otherwise than the decoder does.
func (d *Dispatcher) decode(msg jetstream.Msg, meta *jetstream.MsgMetadata) (jobs.Request, error) {
	if err := jobs.CheckJSON(msg.Data()); err != nil {
		return jobs.Request{}, err
	}
	raw := fillType(msg.Data(), msg.Subject())
	if err := d.validator.Request(raw); err != nil {
		return jobs.Request{}, err
	}
	req, err := jobs.DecodeRequest(raw)
	if err != nil {
		return req, err
	}
	if subjType := strings.TrimPrefix(msg.Subject(), events.RequestPrefix); string(req.Type) != subjType {
		return req, jobs.Invalid("type", fmt.Sprintf("is %q but the request was published on %s", req.Type, msg.Subject()))
	}
	msgID := msg.Headers().Get(jetstream.MsgIDHeader)
	switch {
	case req.ID == "" && msgID != "" && jobs.ValidJobID(msgID):
		req.ID = msgID
	case req.ID == "":
		req.ID = jobs.DerivedID(meta.Timestamp, meta.Sequence.Stream)
	case msgID != "" && msgID != req.ID:
		return req, jobs.Invalid("id", fmt.Sprintf("is %q but the Nats-Msg-Id header is %q: they must be equal", req.ID, msgID))
	}
	return req, nil
}

// admitAll admits each request (admit), what they need read in one round
// trip, and gives each admitted one its job. A request whose job exists
// already (a redelivery whose ack was lost, the same id published again) is
// a duplicate: it is not admitted again, as its job's server may have moved
// on since, and Accept decides whether it still needs its task.
func (d *Dispatcher) admitAll(ctx context.Context, rs []*request) {
	if len(rs) == 0 {
		return
	}
	ids := make([]string, len(rs))
	var serverIDs []string
	for i, r := range rs {
		ids[i] = r.req.ID
		if r.req.Type.TargetsServer() {
			serverIDs = append(serverIDs, r.req.Server)
		}
	}
	exist, found, err := d.store.ForAdmission(ctx, ids, serverIDs)
	if err != nil {
		for _, r := range rs {
			r.err = fmt.Errorf("read for admission: %w", err)
		}
		return
	}
	servers := make(map[string]jobs.Server, len(found))
	for _, srv := range found {
		servers[srv.ID] = srv
	}
	for i, r := range rs {
		r.job = jobs.NewJob(r.req, d.cfg.Retry.MaxAttempts(r.req.Type), r.meta.Timestamp)
		if exist[i] {
			continue
		}
		var srv *jobs.Server
		if s, ok := servers[r.req.Server]; ok && r.req.Type.TargetsServer() {
			srv = &s
			r.job.Site = jobs.SiteOf(s.Site)
		}
		r.err = d.admit(ctx, r.req, srv)
	}
}

// acceptAll records the jobs of the admitted requests, in one round trip.
func (d *Dispatcher) acceptAll(ctx context.Context, rs []*request) {
	var (
		admitted []*request
		all      []jobs.Job
	)
	for _, r := range rs {
		if r.err == nil {
			admitted, all = append(admitted, r), append(all, r.job)
		}
	}
	if len(all) == 0 {
		return
	}
	for i, a := range d.store.AcceptAll(ctx, all) {
		r := admitted[i]
		if a.Err != nil {
			r.err = fmt.Errorf("accept job: %w", a.Err)
			continue
		}
		r.job, r.enqueue = a.Job, a.Enqueue
		if !a.Enqueue {
			r.log.Info().Str("state", string(a.Job.State)).Msg("duplicate request: the job exists")
		}
	}
}

// enqueue puts a recorded job's task on its queue, unless it needs none.
func (d *Dispatcher) enqueue(ctx context.Context, r *request) error {
	if !r.enqueue {
		return nil
	}
	task, err := workers.NewTask(r.job, d.cfg.Retry, asynq.Retention(d.cfg.Retention))
	if err != nil {
		return err
	}
	_, err = d.queue.EnqueueContext(ctx, task)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		r.log.Info().Msg("duplicate request: the task is already queued")
	case err != nil:
		return fmt.Errorf("enqueue job: %w", err)
	default:
		r.log.Info().Str("queue", r.job.Queue()).Msg("job queued")
	}
	return nil
}

// admit checks that the request's server (srv: nil when not enrolled) can
// take it and that the image it names is in the catalogue, then claims the
// server's lifecycle state. A request the system cannot take (unknown
// server, server in maintenance) is refused with a jobs.Error that is not
// retryable.
func (d *Dispatcher) admit(ctx context.Context, req jobs.Request, srv *jobs.Server) error {
	if !req.Type.TargetsServer() {
		if err := jobs.AdmitImageFrom(ctx, req, d.store.Image); err != nil {
			return err
		}
		return d.admitDeploy(ctx, req)
	}
	if refused := jobs.Admit(req, srv); refused != nil {
		return refused
	}
	if err := jobs.AdmitImageFrom(ctx, req, d.store.Image); err != nil {
		return err
	}
	return d.claim(ctx, req)
}

// claim moves the server into the job's transitional state, if the job type
// has one: of two requests racing for one server, one gets the server and
// the other is rejected with the state it found. A redelivery of the same
// request finds the server already its own.
func (d *Dispatcher) claim(ctx context.Context, req jobs.Request) error {
	lc, ok := jobs.LifecycleOf(req.Type)
	if !ok {
		return nil
	}
	_, err := d.store.TransitionServer(ctx, req.Server, lc.From, lc.During, req.ID, string(req.Type)+" requested")
	if e := new(jobs.Error); errors.As(err, &e) && !e.Retryable {
		e.Field = "server"
		return e
	}
	return err
}

// reject marks the request's submitted record rejected (when it has one),
// publishes tinman.request.rejected and terminates the request. When either
// fails the request is nak'ed instead: it is never dropped unannounced.
func (d *Dispatcher) reject(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, req jobs.Request, cause error) {
	id := req.ID
	if id == "" {
		id = msg.Headers().Get(jetstream.MsgIDHeader)
	}
	var err error
	if jobs.ValidJobID(id) {
		err = d.store.RejectSubmitted(ctx, id, jobs.AsError(cause))
	}
	var ev events.Event
	if err == nil {
		ev, err = events.NewRejected(d.cfg.Source, id, req.Server, msg.Data(), cause)
	}
	if err == nil {
		ev.ID = events.RejectionEventID(events.RequestsStream, meta.Sequence.Stream)
		err = d.pub.Publish(ctx, ev)
	}
	log := d.cfg.Logger.With().Str("subject", msg.Subject()).Str("job_id", id).Logger()
	if err != nil {
		log.Warn().Err(err).Msg("could not announce a rejection: will retry")
		_ = msg.NakWithDelay(d.nakDelay(meta.NumDelivered))
		return
	}
	log.Info().Str("reason", cause.Error()).Msg("request rejected")
	d.cfg.Metrics.reject(cause)
	d.wakeDeploy(ctx, req)
	_ = msg.TermWithReason(cause.Error())
}

func (d *Dispatcher) nakDelay(delivered uint64) time.Duration {
	delay := d.cfg.NakDelay
	for i := uint64(1); i < delivered && delay < d.cfg.MaxNakDelay; i++ {
		delay *= 2
	}
	return min(delay, d.cfg.MaxNakDelay)
}
