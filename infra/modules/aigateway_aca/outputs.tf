output "gateway_url" {
  description = "https://<fqdn> of the gateway, or null before the Container App exists (image_digest = null)."
  value       = local.app_enabled ? "https://${azurerm_container_app.this[0].ingress[0].fqdn}" : null
}

output "resource_group_name" {
  description = "Name of the environment's resource group."
  value       = azurerm_resource_group.this.name
}

output "key_vault_name" {
  description = "Name of the Key Vault holding the gateway's secrets (filled by the secrets script)."
  value       = azurerm_key_vault.this.name
}

output "key_vault_uri" {
  description = "Vault URI, https://<name>.vault.azure.net/."
  value       = azurerm_key_vault.this.vault_uri
}

output "key_vault_secret_names" {
  description = "Key Vault secret names the Container App references (map secret name -> environment variable). The secrets script must create each one."
  value       = local.secret_env
}

output "registry_name" {
  description = "Name of the container registry."
  value       = azurerm_container_registry.this.name
}

output "registry_login_server" {
  description = "Login server of the container registry (<name>.azurecr.io); the image is <login server>/<image_repository>@<digest>."
  value       = azurerm_container_registry.this.login_server
}

output "container_app_name" {
  description = "Name of the Container App (computed from the naming rule; the app itself exists only once image_digest is set)."
  value       = local.names.container_app
}

output "container_app_environment_id" {
  description = "Resource ID of the Container Apps environment."
  value       = azurerm_container_app_environment.this.id
}

output "container_app_outbound_ip_addresses" {
  description = "Outbound IPs of the Container App (for the Key Vault firewall or Azure OpenAI network rules); empty before the app exists."
  value       = local.app_enabled ? azurerm_container_app.this[0].outbound_ip_addresses : []
}

output "identity_client_id" {
  description = "Client ID of the app's user-assigned identity (AZURE_CLIENT_ID for keyless Azure OpenAI)."
  value       = azurerm_user_assigned_identity.this.client_id
}

output "identity_principal_id" {
  description = "Principal (object) ID of the app's user-assigned identity."
  value       = azurerm_user_assigned_identity.this.principal_id
}

output "log_analytics_workspace_id" {
  description = "Resource ID of the Log Analytics workspace (gateway logs, saved queries, alert scope)."
  value       = azurerm_log_analytics_workspace.this.id
}

output "application_insights_connection_string" {
  description = "Connection string of Application Insights, or null when it is not enabled."
  value       = var.application_insights_enabled ? azurerm_application_insights.this[0].connection_string : null
  sensitive   = true
}

output "names" {
  description = "Every computed resource name (map of type -> name), for scripts and tests."
  value       = local.names
}
