//! Rendering on the server, where a template is a program any member of a project can
//! write: one that does more than print its variables runs in a worker process of its own,
//! with a ceiling on its memory and on its time.
//!
//! The budget of [`super::render_messages`] counts steps and printed text, but not the
//! values a template builds without printing them (`{% set a = a ~ a %}` a few dozen
//! times is gigabytes), nor the work of one step on a large value (a `replace` over a
//! large variable in a loop of a million). In the server's own process either would take
//! every run and every user down with it. So:
//! - A plain template (text and `{{ name }}`, `{{ a.b[0] }}`: [`super::is_plain`]) renders
//!   in-process: it cannot build anything, and it is what most prompts and every run of
//!   the benchmarks are.
//! - Any other renders in a worker: `promptlab-server render-worker`, one request per line
//!   of JSON on its stdin, one answer per line on its stdout ([`serve`]). The worker
//!   limits its own data to [`WORKER_MEMORY`] (past it an allocation fails and the process
//!   aborts), and the server kills one that takes longer than [`WORKER_TIME`]. Either is
//!   the request's `validation_error` (`template_too_much_memory`, `template_too_slow`),
//!   the worker is replaced, and nothing else notices. Waiting for a free worker is
//!   bounded by the same time (`rate_limited`, `template_workers_busy`, past it), and one
//!   user's renderings take turns for one worker, so a user whose template grinds (or
//!   whose editor keeps asking for its preview) leaves the other free for everyone else.
//!
//! An engine without a worker program (the library's own unit tests) renders everything
//! in-process, as before.

use super::{render_messages, Preview};
use crate::error::{Error, ErrorCode, Result};
use crate::versions::{Message, VariableSpec};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use uuid::Uuid;

/// The data (heap and anonymous mappings) a worker may hold: a version's largest messages
/// (5 MB), its variables (256 kB) and the largest rendering (8 MiB) many times over.
pub const WORKER_MEMORY: u64 = 256 * 1024 * 1024;

/// How long one rendering may take in a worker. A template that spends its whole step
/// budget takes well under a second.
pub const WORKER_TIME: Duration = Duration::from_secs(5);

/// Workers at most, each rendering one request at a time.
const WORKERS: usize = 2;

/// The argument that makes the server's binary a worker.
pub const WORKER_ARG: &str = "render-worker";

#[derive(Serialize)]
struct RequestRef<'a> {
    messages: &'a [Message],
    schema: &'a [VariableSpec],
    values: &'a serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Request {
    messages: Vec<Message>,
    schema: Vec<VariableSpec>,
    values: serde_json::Map<String, serde_json::Value>,
}

/// The workers of one engine, started when first needed.
pub struct Sandbox {
    program: Option<PathBuf>,
    idle: Mutex<Vec<Worker>>,
    slots: tokio::sync::Semaphore,
    /// One user's renderings in workers go one at a time: an entry per user with one
    /// rendering or more waiting or under way.
    users: Mutex<HashMap<Uuid, Arc<tokio::sync::Semaphore>>>,
    /// [`WORKER_TIME`], shorter in tests.
    time: Duration,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Sandbox {
    /// Workers run `program render-worker`; `None` renders everything in-process.
    pub fn new(program: Option<PathBuf>) -> Self {
        Self {
            program,
            idle: Mutex::new(Vec::new()),
            slots: tokio::sync::Semaphore::new(WORKERS),
            users: Mutex::new(HashMap::new()),
            time: WORKER_TIME,
        }
    }

    /// The one-at-a-time slot of `who`, made when first needed; the slots no rendering
    /// holds or waits for are dropped here too.
    fn user_slot(&self, who: Uuid) -> Arc<tokio::sync::Semaphore> {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.retain(|_, slot| Arc::strong_count(slot) > 1);
        users
            .entry(who)
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(1)))
            .clone()
    }

    /// What the editor's live preview shows: the variables `messages` use, and the
    /// messages rendered as [`Self::render`] renders them for a run, with the schema
    /// [`crate::versions::schema_for`] makes of those variables and the specs `declared`
    /// so far. A template that does not parse is the preview's error, not the call's; the
    /// call's are for input past a version's limits.
    pub async fn preview(
        &self,
        who: Uuid,
        messages: &[Message],
        declared: &[VariableSpec],
        values: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Preview> {
        crate::versions::check_messages(messages)?;
        crate::versions::check_schema_size(declared)?;
        crate::runs::check_variable_values(values)?;
        let used: Vec<String> = match super::detect_variables(messages) {
            Ok(used) => used.into_iter().collect(),
            Err(e) => return Ok(Preview::failed(e.into())),
        };
        let schema = crate::versions::schema_for(&used, declared);
        let rendered = self.render(who, messages, &schema, values).await;
        Ok(Preview {
            variables: Ok(used),
            rendered: Some(rendered),
        })
    }

    /// The preview a page view comes with, of a stored version with no values: rendered
    /// only when every message is plain. Any other would hold a worker for every viewer,
    /// up to its time limit, before the page is sent; its variables are listed (parsing
    /// is bounded) and the rendering is left to the editor's own question.
    pub async fn page_preview(
        &self,
        who: Uuid,
        messages: &[Message],
        declared: &[VariableSpec],
    ) -> Preview {
        let preview = if messages.iter().all(|m| super::is_plain(&m.content)) {
            self.preview(who, messages, declared, &serde_json::Map::new())
                .await
        } else {
            super::detect_variables(messages)
                .map(|used| Preview {
                    variables: Ok(used.into_iter().collect()),
                    rendered: None,
                })
                .map_err(Error::from)
        };
        preview.unwrap_or_else(Preview::failed)
    }

    /// [`render_messages`] for the user `who`, in a worker unless every message is plain.
    pub async fn render(
        &self,
        who: Uuid,
        messages: &[Message],
        schema: &[VariableSpec],
        values: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<Message>> {
        let Some(program) = &self.program else {
            return render_messages(messages, schema, values);
        };
        if messages.iter().all(|m| super::is_plain(&m.content)) {
            return render_messages(messages, schema, values);
        }
        let mut line = serde_json::to_vec(&RequestRef {
            messages,
            schema,
            values,
        })
        .map_err(|_| Error::internal())?;
        line.push(b'\n');
        // Waiting is bounded by the same time as rendering, then the request is told to
        // retry. A user waits for their own previous rendering first, so no one user
        // holds more than one worker: the others stay free for everyone else.
        let waited = tokio::time::Instant::now();
        let mine = self.user_slot(who);
        let _mine = match tokio::time::timeout(self.time, mine.acquire_owned()).await {
            Ok(permit) => permit.map_err(|_| Error::internal())?,
            Err(_) => return Err(busy()),
        };
        let left = self.time.saturating_sub(waited.elapsed());
        let _slot = match tokio::time::timeout(left, self.slots.acquire()).await {
            Ok(slot) => slot.map_err(|_| Error::internal())?,
            Err(_) => return Err(busy()),
        };
        let mut idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        loop {
            let reused = idle.is_some();
            let mut worker = match idle.take() {
                Some(w) => w,
                None => Worker::start(program)?,
            };
            let outcome = tokio::time::timeout(self.time, worker.call(&line)).await;
            match outcome {
                Ok(Ok(answer)) => {
                    let answer: std::result::Result<Vec<Message>, Error> = serde_json::from_str(
                        &answer,
                    )
                    .map_err(|e| {
                        tracing::error!(error = %e, "a template worker's answer does not parse");
                        Error::internal()
                    })?;
                    if let Ok(mut idle) = self.idle.lock() {
                        idle.push(worker);
                    }
                    return answer;
                }
                Ok(Err(e)) => {
                    // Its answer's pipe closed: the worker has ended, or is about to.
                    let status = tokio::time::timeout(Duration::from_secs(1), worker.child.wait())
                        .await
                        .ok()
                        .and_then(|s| s.ok());
                    // A failed allocation aborts the process (SIGABRT).
                    if status.and_then(|s| s.signal()) == Some(libc::SIGABRT) {
                        tracing::warn!("a template worker ran out of memory");
                        return Err(refused(
                            "too_much_memory",
                            format!("the templates build values larger than {WORKER_MEMORY} bytes"),
                        ));
                    }
                    if reused {
                        // It had ended while idle (killed from outside): start another.
                        tracing::warn!(error = %e, ?status, "an idle template worker had ended");
                        continue;
                    }
                    tracing::error!(error = %e, ?status, "a template worker failed");
                    return Err(Error::internal());
                }
                Err(_) => {
                    tracing::warn!("a template worker took too long and was stopped");
                    let _ = worker.child.start_kill();
                    return Err(refused(
                        "too_slow",
                        format!(
                            "the templates take longer than {} s to render",
                            self.time.as_secs_f64()
                        ),
                    ));
                }
            }
        }
    }
}

/// Every worker this request may use is busy past the time allowed.
fn busy() -> Error {
    Error::new(
        ErrorCode::RateLimited,
        "every template worker is busy; try again shortly",
    )
    .with_details(serde_json::json!({ "reason": "template_workers_busy" }))
}

/// A refusal of the templates as a whole (no one message is to blame).
fn refused(kind: &str, message: String) -> Error {
    Error::new(ErrorCode::ValidationError, message).with_details(serde_json::json!({
        "field": "messages",
        "reason": format!("template_{kind}"),
    }))
}

impl Worker {
    fn start(program: &Path) -> Result<Self> {
        let mut child = Command::new(program)
            .arg(WORKER_ARG)
            // A worker needs nothing of the server's: no keys, no database address.
            .env_clear()
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                tracing::error!(program = %program.display(), error = %e, "could not start a template worker");
                Error::internal()
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Error::internal());
        };
        Ok(Self {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    /// Send one request line, read one answer line.
    async fn call(&mut self, line: &[u8]) -> std::io::Result<String> {
        self.stdin.write_all(line).await?;
        self.stdin.flush().await?;
        let mut answer = String::new();
        if self.stdout.read_line(&mut answer).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the worker exited",
            ));
        }
        Ok(answer)
    }
}

/// The worker's side: limit this process's data to [`WORKER_MEMORY`], then answer each
/// request line of stdin on stdout until stdin closes. Returns when it does.
pub fn serve() -> std::io::Result<()> {
    limit_memory(WORKER_MEMORY)?;
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lines() {
        let line = line?;
        let answer = match serde_json::from_str::<Request>(&line) {
            Ok(r) => render_messages(&r.messages, &r.schema, &r.values),
            Err(_) => Err(Error::internal()),
        };
        let mut out = serde_json::to_vec(&answer).map_err(std::io::Error::other)?;
        out.push(b'\n');
        stdout.write_all(&out)?;
        stdout.flush()?;
    }
    Ok(())
}

/// Limit this process's data to `bytes`, and write no core file when it aborts (one per
/// refused template, of up to that size, would fill a disk).
fn limit_memory(bytes: u64) -> std::io::Result<()> {
    for (resource, value) in [(libc::RLIMIT_DATA, bytes), (libc::RLIMIT_CORE, 0)] {
        let limit = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        // SAFETY: `setrlimit` reads the struct it is given, which lives across the call;
        // it changes only this process's own limits.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    // A core pattern that pipes to a program ignores RLIMIT_CORE; not being dumpable
    // skips the dump whatever the pattern.
    // SAFETY: `prctl(PR_SET_DUMPABLE, 0)` takes plain integers and changes only this
    // process's own flag.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
