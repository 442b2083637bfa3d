//! The KTP reader as a node service: a fixed pool of worker threads that own the reader (loaded
//! once, on the first worker, off the async runtime) and a bounded queue in front of them, so a
//! burst of scans waits or is turned away (503, `ocr_busy`) instead of starving the API.
//!
//! Ownership: [`OcrService`] (the sending side) lives in the HTTP state; [`OcrWorkers`] (the
//! threads) belongs to the [`crate::Node`]. When every `OcrService` is dropped the queue closes, each
//! worker finishes its job and exits, and `OcrWorkers::join` returns. The image bytes live only in
//! the job and are dropped when it is answered: nothing is stored.

use std::sync::{Arc, OnceLock, mpsc};
use std::thread::JoinHandle;

use ocr_model::reader::{KtpReader, ScanOutput};
use tokio::sync::oneshot;

struct Job {
    bytes: axum::body::Bytes,
    reply: oneshot::Sender<ScanOutput>,
}

/// Why a scan could not be queued or answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcrError {
    /// The queue is full.
    #[error("the KTP reader is busy")]
    Busy,
    /// The model could not be loaded, or the workers are gone.
    #[error("the KTP reader is unavailable: {0}")]
    Unavailable(String),
}

/// Handle for queueing scans. Cheap to clone.
#[derive(Clone)]
pub struct OcrService {
    tx: mpsc::SyncSender<Job>,
    reader: Arc<OnceLock<Result<KtpReader, String>>>,
}

impl std::fmt::Debug for OcrService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OcrService")
            .field("loaded", &self.reader.get().is_some())
            .finish()
    }
}

/// The worker threads; join them after the last `OcrService` is dropped.
#[derive(Debug)]
pub struct OcrWorkers {
    handles: Vec<JoinHandle<()>>,
}

impl OcrWorkers {
    /// Waits for every worker to finish (blocking: call from a blocking thread).
    pub fn join(self) {
        for h in self.handles {
            let _ = h.join();
        }
    }
}

fn load(cell: &OnceLock<Result<KtpReader, String>>) -> &Result<KtpReader, String> {
    cell.get_or_init(|| {
        let t = std::time::Instant::now();
        let r = KtpReader::shipped().map_err(|e| {
            let msg = format!("{:#}", anyhow::Error::from(e));
            tracing::error!(error = %msg, "loading the KTP model failed");
            msg
        });
        if r.is_ok() {
            tracing::info!(ms = t.elapsed().as_millis() as u64, "KTP model loaded");
        }
        r
    })
}

/// Starts `threads` workers behind a queue of `queue` waiting scans. The first worker loads the
/// model at once, so the first scan rarely waits for it.
pub fn start(threads: usize, queue: usize) -> std::io::Result<(OcrService, OcrWorkers)> {
    let (tx, rx) = mpsc::sync_channel::<Job>(queue.max(1));
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let reader: Arc<OnceLock<Result<KtpReader, String>>> = Arc::new(OnceLock::new());
    let mut handles = Vec::new();
    for i in 0..threads.max(1) {
        let (rx, reader) = (rx.clone(), reader.clone());
        handles.push(
            std::thread::Builder::new()
                .name(format!("ktp-ocr-{i}"))
                .spawn(move || {
                    if i == 0 {
                        load(&reader);
                    }
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        let out = match load(&reader) {
                            Ok(r) => ScanOutput::read(r, None, &job.bytes),
                            Err(_) => ScanOutput::unavailable(),
                        };
                        drop(job.bytes);
                        let _ = job.reply.send(out);
                    }
                })?,
        );
    }
    Ok((OcrService { tx, reader }, OcrWorkers { handles }))
}

impl OcrService {
    /// Reads one image on a worker; refuses at once when the queue is full.
    pub async fn scan(&self, bytes: axum::body::Bytes) -> Result<ScanOutput, OcrError> {
        if let Some(Err(e)) = self.reader.get() {
            return Err(OcrError::Unavailable(e.clone()));
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .try_send(Job { bytes, reply })
            .map_err(|e| match e {
                mpsc::TrySendError::Full(_) => OcrError::Busy,
                mpsc::TrySendError::Disconnected(_) => {
                    OcrError::Unavailable("the reader has stopped".into())
                }
            })?;
        rx.await
            .map_err(|_| OcrError::Unavailable("the reader has stopped".into()))
    }
}
