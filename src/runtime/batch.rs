//! A batcher: callers submit items one at a time and wait for their own
//! answer; one task takes whatever has queued up (at most `max` items,
//! waiting at most `linger` for more while the batch is small) and works
//! on them together. The group commit and the delivery-status writer are
//! batchers, so that one transaction (one fsync) serves many updates. With
//! `lanes` above one, up to that many batches are worked on at once (PostgreSQL's
//! group commit: the server commits them side by side); one lane works them one
//! after another (SQLite has one writer).

use std::future::Future;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub struct Batcher<I, O> {
    tx: mpsc::Sender<(I, oneshot::Sender<O>)>,
}

impl<I, O> Clone for Batcher<I, O> {
    fn clone(&self) -> Self {
        Batcher { tx: self.tx.clone() }
    }
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Starts the batch task. `work` must give one answer per item, in order.
    pub fn spawn<F, Fut>(max: usize, linger: Duration, work: F) -> Batcher<I, O>
    where
        F: Fn(Vec<I>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<O>> + Send + 'static,
    {
        Batcher::spawn_lanes(max, linger, 1, work)
    }

    /// As [`Batcher::spawn`], with up to `lanes` batches worked on at once.
    pub fn spawn_lanes<F, Fut>(max: usize, linger: Duration, lanes: usize, work: F) -> Batcher<I, O>
    where
        F: Fn(Vec<I>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<O>> + Send + 'static,
    {
        let lanes = std::sync::Arc::new(tokio::sync::Semaphore::new(lanes.max(1)));
        let (tx, mut rx) = mpsc::channel::<(I, oneshot::Sender<O>)>(max * 4);
        tokio::spawn(async move {
            let mut items = Vec::with_capacity(max);
            let mut answers = Vec::with_capacity(max);
            loop {
                // A free lane first, then whatever has queued meanwhile: a batch taken while
                // every lane is busy would leave what arrives after it to a batch of its own.
                let Ok(lane) = lanes.clone().acquire_owned().await else {
                    break;
                };
                let Some((item, answer)) = rx.recv().await else {
                    break;
                };
                items.push(item);
                answers.push(answer);
                let deadline = tokio::time::Instant::now() + linger;
                while items.len() < max {
                    let next = match rx.try_recv() {
                        Ok(next) => Some(next),
                        Err(mpsc::error::TryRecvError::Empty) if !linger.is_zero() => {
                            tokio::time::timeout_at(deadline, rx.recv()).await.ok().flatten()
                        }
                        Err(_) => None,
                    };
                    match next {
                        Some((item, answer)) => {
                            items.push(item);
                            answers.push(answer);
                        }
                        None => break,
                    }
                }
                let batch = work(std::mem::take(&mut items));
                let waiting: Vec<oneshot::Sender<O>> = std::mem::take(&mut answers);
                tokio::spawn(async move {
                    let results = batch.await;
                    drop(lane);
                    for (answer, result) in waiting.into_iter().zip(results) {
                        let _ = answer.send(result);
                    }
                });
            }
        });
        Batcher { tx }
    }

    /// Submits one item and waits for its answer; `None` when the batch task is gone.
    pub async fn submit(&self, item: I) -> Option<O> {
        let (answer, wait) = oneshot::channel();
        self.tx.send((item, answer)).await.ok()?;
        wait.await.ok()
    }
}
