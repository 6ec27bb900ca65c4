# prod: always one warm replica, purge protection on, longer log retention, alerts mailed.
env                  = "prod"
location             = "southafricanorth"
registry_name_suffix = "k7q2"

# Fill in the real Azure OpenAI account before the first apply.
azure_openai_endpoint    = "https://pvc-prod-openai-san.openai.azure.com"
azure_openai_auth        = "entra"
azure_openai_resource_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/pvc-prod-openai-rg-san/providers/Microsoft.CognitiveServices/accounts/pvc-prod-openai-san"

min_replicas                       = 1
max_replicas                       = 5
key_vault_purge_protection_enabled = true
log_analytics_retention_days       = 90
log_analytics_daily_quota_gb       = 5
application_insights_enabled       = true
alert_email_addresses              = ["aigateway-oncall@example.com"]

projects = {
  smoke    = { rpm = 60, max_parallel = 4, embeddings_rpm = 30 }
  roo-team = { rpm = 1200, max_parallel = 40, embeddings_rpm = 240 }
}
