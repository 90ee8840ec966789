//! Stream and account settings: retention, stream mode, record distribution, enhanced
//! monitoring, limits, account settings, maximum record size, warm throughput, and
//! starting/stopping encryption.

use shardline_wire::constraints::METRIC_NAMES;
use shardline_wire::shapes::*;
use shardline_wire::{ApiError, ErrorCode, Timestamp};

use crate::catalog::StreamRef as Stream;
use crate::control::ON_DEMAND_STREAM_LIMIT;
use crate::encryption::{canonical_key_id, AWS_MANAGED_KEY};
use crate::error::Result;
use crate::model::{Distribution, EncryptionState, StreamMeta, StreamMode, StreamStatus};
use crate::resolve::{auto_needs_on_demand, not_active, StreamName};
use crate::{Caller, Engine};

const MIN_RETENTION_HOURS: i64 = 24;
const MAX_RETENTION_HOURS: i64 = 8760;
/// A minimum throughput billing commitment lasts at least this long once enabled.
const COMMITMENT_MIN_MS: u64 = 365 * 86_400_000;

impl Engine {
    pub fn increase_stream_retention_period(
        &self,
        caller: &Caller,
        input: IncreaseStreamRetentionPeriodInput,
    ) -> Result<Empty> {
        self.change_retention(caller, input, true)
    }

    pub fn decrease_stream_retention_period(
        &self,
        caller: &Caller,
        input: DecreaseStreamRetentionPeriodInput,
    ) -> Result<Empty> {
        self.change_retention(caller, input, false)
    }

    fn change_retention(
        &self,
        caller: &Caller,
        input: RetentionPeriodInput,
        increase: bool,
    ) -> Result<Empty> {
        let (n, stream) = self.find_stream(caller, &input)?;
        let hours = input.retention_period_hours.unwrap_or_default();
        if hours < MIN_RETENTION_HOURS {
            return Err(ApiError::invalid_argument(format!(
                "Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too short."
            ))
            .into());
        }
        if hours > MAX_RETENTION_HOURS {
            return Err(ApiError::invalid_argument(format!(
                "Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too long."
            ))
            .into());
        }
        {
            let mut s = stream.write();
            require_active(&s.meta, &n, self.clock.now_ms())?;
            let current = i64::from(s.meta.retention_hours);
            if increase && hours < current {
                return Err(ApiError::invalid_argument(format!(
                    "Requested retention period ({hours} hours) for stream {} can not be shorter than existing retention period ({current} hours). Use DecreaseRetentionPeriod API.",
                    n.name
                ))
                .into());
            }
            if !increase && hours > current {
                return Err(ApiError::invalid_argument(format!(
                    "Requested retention period ({hours} hours) for stream {} can not be longer than existing retention period ({current} hours). Use IncreaseRetentionPeriod API.",
                    n.name
                ))
                .into());
            }
            s.meta.retention_hours = hours as u32;
        }
        self.persist()?;
        Ok(Empty {})
    }

    pub fn update_stream_mode(
        &self,
        caller: &Caller,
        input: UpdateStreamModeInput,
    ) -> Result<Empty> {
        let (n, stream) = self.stream_from_arn(caller, input.stream_arn.as_deref())?;
        let mode = StreamMode::from_details(input.stream_mode_details.as_ref());
        let now = self.clock.now_ms();
        {
            let mut s = stream.write();
            require_active(&s.meta, &n, now)?;
            if mode == StreamMode::OnDemand && s.meta.mode != mode {
                drop(s);
                self.check_on_demand_limit(&n.account)?;
                s = stream.write();
            }
            if s.meta.mode == mode {
                return Err(ApiError::invalid_argument(format!(
                    "Stream {} under account {} is already in {} mode.",
                    n.name,
                    n.account,
                    mode.as_str()
                ))
                .into());
            }
            // AWS does not say what becomes of AUTO on the way to PROVISIONED (where AUTO is
            // not supported); shardline refuses rather than start requiring partition keys of
            // producers that send none.
            if mode == StreamMode::Provisioned
                && s.meta.queues.iter().any(|q| q.deleted_at_ms.is_none())
            {
                return Err(ApiError::resource_in_use(format!(
                    "Stream {} under account {} has queues, which need ON_DEMAND mode; delete them \
                     before switching to PROVISIONED mode.",
                    n.name, n.account
                ))
                .into());
            }
            if mode == StreamMode::Provisioned && s.meta.distribution == Distribution::Auto {
                return Err(ApiError::invalid_argument(format!(
                    "Stream {} under account {} uses the AUTO record distribution strategy; set it \
                     to USER_PARTITION_KEY with UpdateStreamRecordDistributionStrategy before \
                     switching to PROVISIONED mode.",
                    n.name, n.account
                ))
                .into());
            }
            s.meta.mode = mode;
            s.rebuild_routes();
            if let Some(w) = input.warm_throughput_mi_bps {
                s.meta.warm_throughput_mibps = Some(w);
            }
            s.meta.updating_until_ms = Some(now + self.config.create_delay_ms);
        }
        self.persist()?;
        Ok(Empty {})
    }

    pub fn enable_enhanced_monitoring(
        &self,
        caller: &Caller,
        input: EnableEnhancedMonitoringInput,
    ) -> Result<EnhancedMonitoringOutput> {
        self.change_monitoring(caller, input, true)
    }

    pub fn disable_enhanced_monitoring(
        &self,
        caller: &Caller,
        input: DisableEnhancedMonitoringInput,
    ) -> Result<EnhancedMonitoringOutput> {
        self.change_monitoring(caller, input, false)
    }

    fn change_monitoring(
        &self,
        caller: &Caller,
        input: EnhancedMonitoringInput,
        enable: bool,
    ) -> Result<EnhancedMonitoringOutput> {
        let (n, stream) = self.find_stream(caller, &input)?;
        let asked: Vec<String> = input.shard_level_metrics.unwrap_or_default();
        let asked: Vec<String> = if asked.iter().any(|m| m == "ALL") {
            METRIC_NAMES
                .iter()
                .filter(|m| **m != "ALL")
                .map(|m| m.to_string())
                .collect()
        } else {
            asked
        };
        let (current, desired, arn) = {
            let mut s = stream.write();
            require_active(&s.meta, &n, self.clock.now_ms())?;
            let current = s.meta.shard_level_metrics.clone();
            let mut desired = current.clone();
            if enable {
                for m in asked {
                    if !desired.contains(&m) {
                        desired.push(m);
                    }
                }
            } else {
                desired.retain(|m| !asked.contains(m));
            }
            // Keep AWS's order of metric names.
            desired.sort_by_key(|m| METRIC_NAMES.iter().position(|x| x == m));
            s.meta.shard_level_metrics = desired.clone();
            (current, desired, s.meta.arn(&self.config.region))
        };
        self.persist()?;
        Ok(EnhancedMonitoringOutput {
            stream_name: n.name,
            current_shard_level_metrics: current,
            desired_shard_level_metrics: desired,
            stream_arn: arn,
        })
    }

    pub fn describe_limits(
        &self,
        caller: &Caller,
        _input: DescribeLimitsInput,
    ) -> Result<DescribeLimitsOutput> {
        let streams = self.catalog.list(&caller.account_id, None);
        let (mut open, mut on_demand) = (0i64, 0i64);
        for s in &streams {
            let s = s.read();
            open += s.meta.open_shards().count() as i64;
            on_demand += i64::from(s.meta.mode == StreamMode::OnDemand);
        }
        Ok(DescribeLimitsOutput {
            shard_limit: i64::from(self.config.shard_limit),
            open_shard_count: open,
            on_demand_stream_count: on_demand,
            on_demand_stream_count_limit: ON_DEMAND_STREAM_LIMIT,
        })
    }

    pub fn describe_account_settings(
        &self,
        caller: &Caller,
        _input: DescribeAccountSettingsInput,
    ) -> Result<DescribeAccountSettingsOutput> {
        Ok(self.account_settings_shape(&caller.account_id))
    }

    pub fn update_account_settings(
        &self,
        caller: &Caller,
        input: UpdateAccountSettingsInput,
    ) -> Result<UpdateAccountSettingsOutput> {
        let enable = input
            .minimum_throughput_billing_commitment
            .and_then(|c| c.status)
            .as_deref()
            == Some("ENABLED");
        let now = self.clock.now_ms();
        {
            let mut accounts = self.catalog.accounts.write();
            let a = accounts.entry(caller.account_id.clone()).or_default();
            if enable {
                if a.commitment_started_ms.is_none() || a.commitment_ended_ms.is_some() {
                    a.commitment_started_ms = Some(now);
                    a.commitment_ended_ms = None;
                }
            } else if let Some(started) = a.commitment_started_ms {
                if a.commitment_ended_ms.is_none() {
                    // A commitment runs at least its minimum term; it ends then, not now.
                    a.commitment_ended_ms = Some(now.max(started + COMMITMENT_MIN_MS));
                }
            }
        }
        self.persist()?;
        Ok(self.account_settings_shape(&caller.account_id))
    }

    fn account_settings_shape(&self, account: &str) -> AccountSettingsOutput {
        let now = self.clock.now_ms();
        let accounts = self.catalog.accounts.read();
        let commitment = accounts.get(account).and_then(|a| {
            let started = a.commitment_started_ms?;
            let earliest = started + COMMITMENT_MIN_MS;
            let ts = |ms: u64| Some(Timestamp::from_millis(ms as i64));
            Some(match a.commitment_ended_ms {
                None => MinimumThroughputBillingCommitmentOutput {
                    status: "ENABLED".into(),
                    started_at: ts(started),
                    ended_at: None,
                    earliest_allowed_end_at: ts(earliest),
                },
                Some(end) if end > now => MinimumThroughputBillingCommitmentOutput {
                    status: "ENABLED_UNTIL_EARLIEST_ALLOWED_END".into(),
                    started_at: ts(started),
                    ended_at: ts(end),
                    earliest_allowed_end_at: ts(earliest),
                },
                Some(end) => MinimumThroughputBillingCommitmentOutput {
                    status: "DISABLED".into(),
                    started_at: ts(started),
                    ended_at: ts(end),
                    earliest_allowed_end_at: None,
                },
            })
        });
        AccountSettingsOutput {
            minimum_throughput_billing_commitment: Some(commitment.unwrap_or(
                MinimumThroughputBillingCommitmentOutput {
                    status: "DISABLED".into(),
                    started_at: None,
                    ended_at: None,
                    earliest_allowed_end_at: None,
                },
            )),
        }
    }

    /// UpdateStreamRecordDistributionStrategy: takes effect for the next record; records
    /// already stored stay where they are. Setting the current strategy again is accepted.
    pub fn update_stream_record_distribution_strategy(
        &self,
        caller: &Caller,
        input: UpdateStreamRecordDistributionStrategyInput,
    ) -> Result<Empty> {
        let (n, stream) = self.stream_from_arn(caller, input.stream_arn.as_deref())?;
        let wanted = Distribution::parse(input.record_distribution_strategy.as_deref());
        {
            let mut s = stream.write();
            require_active(&s.meta, &n, self.clock.now_ms())?;
            if s.meta.mode != StreamMode::OnDemand {
                if wanted == Distribution::Auto {
                    return Err(auto_needs_on_demand(&n.account, &n.name).into());
                }
                // USER_PARTITION_KEY is what a provisioned stream does anyway.
                return Ok(Empty {});
            }
            if s.meta.distribution == wanted {
                return Ok(Empty {});
            }
            s.meta.distribution = wanted;
        }
        self.persist()?;
        Ok(Empty {})
    }

    pub fn update_max_record_size(
        &self,
        caller: &Caller,
        input: UpdateMaxRecordSizeInput,
    ) -> Result<Empty> {
        let (n, stream) = self.stream_from_arn(caller, input.stream_arn.as_deref())?;
        {
            let mut s = stream.write();
            require_active(&s.meta, &n, self.clock.now_ms())?;
            s.meta.max_record_size_kib = input.max_record_size_in_kib.unwrap_or(1024) as u32;
        }
        self.persist()?;
        Ok(Empty {})
    }

    pub fn update_stream_warm_throughput(
        &self,
        caller: &Caller,
        input: UpdateStreamWarmThroughputInput,
    ) -> Result<UpdateStreamWarmThroughputOutput> {
        let (n, stream) = self.find_stream(caller, &input)?;
        let committed = self
            .catalog
            .accounts
            .read()
            .get(&n.account)
            .is_some_and(|a| {
                a.commitment_started_ms.is_some()
                    && a.commitment_ended_ms
                        .is_none_or(|e| e > self.clock.now_ms())
            });
        let target = input.warm_throughput_mi_bps.unwrap_or_default();
        let arn = {
            let mut s = stream.write();
            require_active(&s.meta, &n, self.clock.now_ms())?;
            if s.meta.mode != StreamMode::OnDemand {
                return Err(ApiError::new(
                    ErrorCode::Validation,
                    format!("Warm throughput can only be set on ON_DEMAND streams; stream {} under account {} is PROVISIONED.", n.name, n.account),
                )
                .into());
            }
            if !committed {
                return Err(ApiError::new(
                    ErrorCode::Validation,
                    format!("Warm throughput needs a minimum throughput billing commitment on account {}.", n.account),
                )
                .into());
            }
            s.meta.warm_throughput_mibps = Some(target);
            s.meta.arn(&self.config.region)
        };
        self.persist()?;
        Ok(UpdateStreamWarmThroughputOutput {
            stream_arn: arn,
            stream_name: n.name,
            warm_throughput: WarmThroughputObject {
                target_mi_bps: Some(target),
                current_mi_bps: Some(target),
            },
        })
    }

    pub fn start_stream_encryption(
        &self,
        caller: &Caller,
        input: StartStreamEncryptionInput,
    ) -> Result<Empty> {
        let (n, stream) = self.find_stream(caller, &input)?;
        let key_id = input.key_id.clone().unwrap_or_default();
        if input.encryption_type.as_deref() != Some("KMS") {
            return Err(ApiError::invalid_argument(
                "EncryptionType must be KMS to start stream encryption.",
            )
            .into());
        }
        self.check_kms_key(&key_id, &n)?;
        let now = self.clock.now_ms();
        // Records are sealed under the new data key once this returns: the key is in the
        // manifest first.
        self.change_durably(&stream, |s| {
            require_active(&s.meta, &n, now)?;
            let same_key = s
                .meta
                .encryption
                .as_ref()
                .is_some_and(|e| canonical_key_id(&e.key_id) == canonical_key_id(&key_id));
            if !same_key {
                let id = self.catalog.allocate_partition();
                let data_key = self
                    .keyring
                    .new_data_key(id)
                    .ok_or_else(ApiError::internal)?;
                s.meta.data_keys.push(data_key);
                s.meta.encryption = Some(EncryptionState {
                    key_id,
                    data_key: id,
                });
            }
            s.meta.updating_until_ms = Some(now + self.config.create_delay_ms);
            Ok(())
        })?;
        Ok(Empty {})
    }

    pub fn stop_stream_encryption(
        &self,
        caller: &Caller,
        input: StopStreamEncryptionInput,
    ) -> Result<Empty> {
        let (n, stream) = self.find_stream(caller, &input)?;
        let key_id = input.key_id.clone().unwrap_or_default();
        self.check_kms_key(&key_id, &n)?;
        let now = self.clock.now_ms();
        {
            let mut s = stream.write();
            require_active(&s.meta, &n, now)?;
            // Data keys stay: records written under them must still read.
            s.meta.encryption = None;
            s.meta.updating_until_ms = Some(now + self.config.create_delay_ms);
        }
        self.persist()?;
        Ok(Empty {})
    }

    /// Known keys: the AWS-managed `alias/aws/kinesis` and those configured.
    fn check_kms_key(&self, key_id: &str, n: &StreamName) -> Result<()> {
        let wanted = canonical_key_id(key_id);
        let known = wanted == AWS_MANAGED_KEY
            || self
                .config
                .kms_keys
                .iter()
                .any(|k| canonical_key_id(k) == wanted);
        if known {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::KmsNotFound,
                format!(
                    "Key '{key_id}' does not exist (stream {} under account {}).",
                    n.name, n.account
                ),
            )
            .into())
        }
    }

    fn stream_from_arn(&self, caller: &Caller, arn: Option<&str>) -> Result<(StreamName, Stream)> {
        self.find_stream(
            caller,
            &shardline_wire::shapes::StreamRef {
                stream_name: None,
                stream_arn: arn.map(str::to_owned),
            },
        )
    }
}

fn require_active(meta: &StreamMeta, n: &StreamName, now: u64) -> Result<()> {
    let status = meta.status(now);
    if status != StreamStatus::Active {
        return Err(not_active(&n.account, &n.name, status).into());
    }
    Ok(())
}
