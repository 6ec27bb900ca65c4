output "gateway_url" {
  description = "https://<fqdn> of the gateway: the base URL clients use (with /v1 for OpenAI SDKs)."
  value       = "https://${azurerm_container_app.this.ingress[0].fqdn}"
}

output "resource_group_name" {
  description = "Name of the environment's resource group (made by the bootstrap)."
  value       = data.azurerm_resource_group.this.name
}

output "key_vault_name" {
  description = "Name of the Key Vault holding the gateway's secrets (made by the bootstrap, filled by the secrets script)."
  value       = local.key_vault_name
}

output "key_vault_secret_names" {
  description = "Key Vault secret names the Container App references (map secret name -> environment variable). Each must exist before an apply (scripts/deploy.py checks)."
  value       = local.secret_env
}

output "container_app_name" {
  description = "Name of the Container App."
  value       = azurerm_container_app.this.name
}

output "image" {
  description = "Image the Container App is configured to run (<registry>/<repository>@sha256:...)."
  value       = var.image
}

output "container_app_environment_id" {
  description = "Resource ID of the Container Apps environment."
  value       = azurerm_container_app_environment.this.id
}

output "container_app_outbound_ip_addresses" {
  description = "Outbound IPs of the Container App (for Azure OpenAI or Key Vault network rules)."
  value       = azurerm_container_app.this.outbound_ip_addresses
}

output "ingress_allowed_ip_ranges" {
  description = "CIDR ranges allowed to reach the gateway; empty = the internet. Non-empty means a smoke test must run from inside one of them."
  value       = var.ingress_allowed_ip_ranges
}

output "identity_client_id" {
  description = "Client ID of the app's user-assigned identity (AZURE_CLIENT_ID for keyless Azure OpenAI and Redis)."
  value       = local.identity.client_id
}

output "log_analytics_workspace_id" {
  description = "Resource ID of the Log Analytics workspace (gateway logs, saved queries, alert scope)."
  value       = azurerm_log_analytics_workspace.this.id
}

output "shared_limits_redis_hostname" {
  description = "Host name of the Managed Redis behind the shared limits, or null when shared limits are off."
  value       = local.shared_limits_enabled ? azurerm_managed_redis.this[0].hostname : null
}

output "names" {
  description = "Every computed resource name (map of type -> name), for scripts and tests."
  value       = local.names
}

output "workbook_url" {
  description = "Portal URL of the environment's dashboard (the Azure Monitor workbook over the workspace)."
  value       = "https://portal.azure.com/#resource${azurerm_application_insights_workbook.this.id}/workbook"
}

output "action_group_id" {
  description = "Resource ID of the action group every alert notifies (e-mails: alert_email_addresses)."
  value       = azurerm_monitor_action_group.this.id
}

output "availability_test_url" {
  description = "URL the App Insights availability test probes (the gateway's /health/readiness)."
  value       = local.readiness_url
}
