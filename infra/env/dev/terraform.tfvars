# dev: deployed on every merge, scales to zero, small log cap; limits per replica (no Redis).
env = "dev"

# Fill in the real Azure OpenAI account before the first deploy (keyless: bootstrap_env.py --openai-resource-id).
azure_openai_endpoint = "https://pvc-dev-openai-san.openai.azure.com"

max_replicas                 = 2
log_analytics_daily_quota_gb = 1

projects = {
  smoke    = { rpm = 60, max_parallel = 4, embeddings_rpm = 30 }
  roo-team = {}
}
