//! The durable jobs table: enqueue, claim with a lease, complete, fail with retry or for good.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::rows::*;
use super::{Db, ThisStore, clamp_limit, fetch_limit, found, push_list, to_json};
use crate::model::*;
use crate::store::{JobStore, StoreError, StoreResult};

impl ThisStore {
    async fn load_job(&self, id: Id) -> StoreResult<Job> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row: Option<JobRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
        Ok(found(row, "job")?.into())
    }
}

#[async_trait]
impl JobStore for ThisStore {
    async fn enqueue_job(&self, job: &NewJob) -> StoreResult<Job> {
        let sql = format!(
            "INSERT INTO jobs (workspace_id, kind, payload, status, run_at, attempts, max_attempts, created_at, \
             updated_at) VALUES ($1, $2, $3, 'queued', $4, 0, $5, $6, $6) RETURNING {JOB_COLUMNS}"
        );
        let row: JobRow = sqlx::query_as(&sql)
            .bind(job.workspace_id)
            .bind(&job.kind)
            .bind(to_json(&job.payload)?)
            .bind(job.run_at.timestamp_millis())
            .bind(i64::from(job.max_attempts.max(1)))
            .bind(chrono::Utc::now().timestamp_millis())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.into())
    }

    async fn claim_job(&self, kinds: &[String], now: Timestamp, lease_until: Timestamp) -> StoreResult<Option<Job>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let now = now.timestamp_millis();
        let mut tx = self.begin().await?;
        // Two index walks, each stopping at its first row: due queued jobs, and running jobs whose lease ran
        // out. One query with OR would make the database collect and sort every due job first, which a
        // backlog of thousands turns into milliseconds per claim.
        let mut first: Option<(i64, Id)> = None;
        for due in ["status = 'queued' AND run_at <= ", "status = 'running' AND locked_until <= "] {
            let mut qb = QueryBuilder::<Db>::new("SELECT run_at, id FROM jobs WHERE ");
            qb.push(due).push_bind(now).push(" AND kind IN ");
            push_list(&mut qb, kinds.iter().cloned());
            qb.push(" ORDER BY run_at, id LIMIT 1").push(super::super::CLAIM_JOB_SUFFIX);
            let found: Option<(i64, Id)> = qb.build_query_as().fetch_optional(&mut *tx).await?;
            first = match (first, found) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let Some((_, id)) = first else {
            return Ok(None);
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = $1, updated_at = $2 \
             WHERE id = $3 RETURNING {JOB_COLUMNS}"
        );
        let row: JobRow =
            sqlx::query_as(&sql).bind(lease_until.timestamp_millis()).bind(now).bind(id).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(row.into()))
    }

    async fn complete_job(&self, id: Id, now: Timestamp) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'done', locked_until = NULL, last_error = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(now.timestamp_millis())
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("job"));
        }
        Ok(())
    }

    async fn fail_job(&self, id: Id, error: &str, retry_at: Option<Timestamp>, now: Timestamp) -> StoreResult<Job> {
        let now = now.timestamp_millis();
        let done = match retry_at {
            Some(at) => sqlx::query(
                "UPDATE jobs SET status = 'queued', run_at = $1, locked_until = NULL, last_error = $2, \
                 updated_at = $3 WHERE id = $4",
            )
            .bind(at.timestamp_millis())
            .bind(error)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?,
            None => sqlx::query(
                "UPDATE jobs SET status = 'failed', locked_until = NULL, last_error = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(error)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?,
        };
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("job"));
        }
        self.load_job(id).await
    }

    async fn get_job(&self, id: Id) -> StoreResult<Job> {
        self.load_job(id).await
    }

    async fn list_jobs(&self, status: Option<JobStatus>, page: &PageRequest) -> StoreResult<Page<Job>> {
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id > "));
        qb.push_bind(page.after.map_or(0, |c| c.id));
        if let Some(status) = status {
            qb.push(" AND status = ").push_bind(status.as_str());
        }
        qb.push(" ORDER BY id LIMIT ").push_bind(fetch_limit(page));
        let rows: Vec<JobRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let items = rows.into_iter().map(Job::from).collect();
        Ok(Page::from_overfetch(items, clamp_limit(page), |j| Cursor { key: 0, id: j.id }))
    }

    async fn retry_job(&self, id: Id, now: Timestamp) -> StoreResult<Job> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, locked_until = NULL, updated_at = $1 \
             WHERE id = $2 AND status = 'failed'",
        )
        .bind(now.timestamp_millis())
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            self.load_job(id).await?;
            return Err(StoreError::conflict("job_not_failed", "only a failed job can be retried"));
        }
        self.load_job(id).await
    }
}
