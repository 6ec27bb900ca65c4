output "gateway_url" {
  description = "https://<fqdn> of the gateway; null until the first image digest is applied."
  value       = module.aigateway.gateway_url
}

output "resource_group_name" {
  description = "Resource group of the environment."
  value       = module.aigateway.resource_group_name
}

output "key_vault_name" {
  description = "Key Vault the secrets script fills."
  value       = module.aigateway.key_vault_name
}

output "key_vault_secret_names" {
  description = "Secret names the app references (secret name -> env var)."
  value       = module.aigateway.key_vault_secret_names
}

output "registry_name" {
  description = "Container registry name (az acr login --name)."
  value       = module.aigateway.registry_name
}

output "registry_login_server" {
  description = "Registry login server; the pipeline pushes <login server>/aigateway."
  value       = module.aigateway.registry_login_server
}

output "container_app_name" {
  description = "Container App name."
  value       = module.aigateway.container_app_name
}
