# uat: production-like settings at dev cost; scales to zero, no purge protection.
env                  = "uat"
location             = "southafricanorth"
registry_name_suffix = "k7q2"

# Fill in the real Azure OpenAI account before the first apply.
azure_openai_endpoint    = "https://pvc-uat-openai-san.openai.azure.com"
azure_openai_auth        = "entra"
azure_openai_resource_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/pvc-uat-openai-rg-san/providers/Microsoft.CognitiveServices/accounts/pvc-uat-openai-san"

min_replicas                 = 0
max_replicas                 = 3
log_analytics_retention_days = 30
log_analytics_daily_quota_gb = 2

projects = {
  smoke    = { rpm = 60, max_parallel = 4, embeddings_rpm = 30 }
  roo-team = {}
}
