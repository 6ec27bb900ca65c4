# dev: small, scale to zero, no purge protection (can be torn down and rebuilt under the same names).
env                  = "dev"
location             = "southafricanorth"
registry_name_suffix = "k7q2"

# Fill in the real Azure OpenAI account before the first apply.
azure_openai_endpoint    = "https://pvc-dev-openai-san.openai.azure.com"
azure_openai_auth        = "entra"
azure_openai_resource_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/pvc-dev-openai-rg-san/providers/Microsoft.CognitiveServices/accounts/pvc-dev-openai-san"

min_replicas                 = 0
max_replicas                 = 2
log_analytics_retention_days = 30
log_analytics_daily_quota_gb = 1

projects = {
  smoke    = { rpm = 60, max_parallel = 4, embeddings_rpm = 30 }
  roo-team = {}
}
