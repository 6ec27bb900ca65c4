# Thin root: identical in dev, uat and prod; only terraform.tfvars and the backend key differ.
module "aigateway" {
  source = "../../modules/aigateway_aca"

  env                  = var.env
  location             = var.location
  registry_name_suffix = var.registry_name_suffix
  tags                 = var.tags

  image_digest     = var.image_digest
  min_replicas     = var.min_replicas
  max_replicas     = var.max_replicas
  container_cpu    = var.container_cpu
  container_memory = var.container_memory

  ingress_allowed_ip_ranges          = var.ingress_allowed_ip_ranges
  key_vault_purge_protection_enabled = var.key_vault_purge_protection_enabled
  key_vault_allowed_ip_ranges        = var.key_vault_allowed_ip_ranges

  log_analytics_retention_days = var.log_analytics_retention_days
  log_analytics_daily_quota_gb = var.log_analytics_daily_quota_gb
  application_insights_enabled = var.application_insights_enabled
  alert_email_addresses        = var.alert_email_addresses

  azure_openai_endpoint    = var.azure_openai_endpoint
  azure_openai_auth        = var.azure_openai_auth
  azure_openai_resource_id = var.azure_openai_resource_id
  codex_deployment         = var.codex_deployment
  embeddings_deployment    = var.embeddings_deployment

  projects = var.projects
}
