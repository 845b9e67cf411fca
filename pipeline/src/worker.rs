//! A format instance on a task of its own — a scan's decoders, a writer's
//! encoders: jobs go in one at a time (one running, one waiting), each
//! answer comes back on its own channel, so the caller can hand batches to
//! several workers in turn and take the answers back in order.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

/// Format instances for each of `tasks` readers (or writers): twice the
/// cores they leave, 1 to 4. A format's decode or encode is usually most of
/// a task's work, and more batches in flight than cores keep the cores busy
/// while the task itself reads or writes — on 2 cores at parallelism 1,
/// json → blackhole took 11.0 s with 2, 9.2 s with 3 and 8.7 s with 4
/// decoders.
pub(super) fn per_task(tasks: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (2 * cores / tasks.max(1)).clamp(1, 4)
}

pub(super) struct Worker<J, R> {
    jobs: mpsc::Sender<(J, oneshot::Sender<R>)>,
    task: tokio::task::JoinHandle<()>,
}

impl<J: Send + 'static, R: Send + 'static> Worker<J, R> {
    /// Runs `work` on each job in turn, on a task that owns `state` (the
    /// format instance, handed to `work` and back).
    pub(super) fn spawn<S, F, Fut>(state: S, mut work: F) -> Worker<J, R>
    where
        S: Send + 'static,
        F: FnMut(S, J) -> Fut + Send + 'static,
        Fut: Future<Output = (S, R)> + Send,
    {
        let (jobs, mut queue) = mpsc::channel::<(J, oneshot::Sender<R>)>(1);
        let task = tokio::spawn(async move {
            let mut state = state;
            while let Some((job, reply)) = queue.recv().await {
                let (back, answer) = work(state, job).await;
                state = back;
                if reply.send(answer).is_err() {
                    return;
                }
            }
        });
        Worker { jobs, task }
    }

    /// Hands `job` over; its answer will come on the returned channel.
    /// `None` when the task has ended.
    pub(super) async fn submit(&self, job: J) -> Option<oneshot::Receiver<R>> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send((job, reply)).await.ok()?;
        Some(answer)
    }
}

impl<J, R> Drop for Worker<J, R> {
    fn drop(&mut self) {
        self.task.abort();
    }
}
