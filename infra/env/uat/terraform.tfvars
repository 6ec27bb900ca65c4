# uat: promoted from dev behind an approval, production-like limits, still scales to zero.
env = "uat"

azure_openai_endpoint = "https://pvc-uat-openai-san.openai.azure.com"

max_replicas                 = 3
log_analytics_daily_quota_gb = 2
alert_email_addresses        = ["aigateway-oncall@example.com"]

projects = {
  smoke    = { rpm = 60, max_parallel = 4, embeddings_rpm = 30 }
  roo-team = {}
}
