# prod: one warm replica, up to five sharing one rate limit through Redis, longer retention, alerts mailed.
env = "prod"

azure_openai_endpoint = "https://pvc-prod-openai-san.openai.azure.com"

min_replicas                 = 1
max_replicas                 = 5
shared_limits_enabled        = true
log_analytics_retention_days = 90
log_analytics_daily_quota_gb = 5
alert_email_addresses        = ["aigateway-oncall@example.com"]

projects = {
  smoke    = { rpm = 60, max_parallel = 4, embeddings_rpm = 30 }
  roo-team = { rpm = 1200, max_parallel = 40, embeddings_rpm = 240 }
}
