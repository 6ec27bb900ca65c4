output "deployment" {
  description = <<-EOT
    What scripts/deploy.py reads after an apply (terraform output -json deployment):
    gateway_url (https://<fqdn>), resource_group_name, container_app_name, image (what the app is
    configured to run), key_vault_name, key_vault_secret_names (secret -> env var) and
    ingress_allowed_ip_ranges (non-empty = smoke only from inside those ranges) and workbook_url
    (the environment's dashboard, printed after a deploy).
  EOT
  value = {
    gateway_url               = module.aigateway.gateway_url
    resource_group_name       = module.aigateway.resource_group_name
    container_app_name        = module.aigateway.container_app_name
    image                     = module.aigateway.image
    key_vault_name            = module.aigateway.key_vault_name
    key_vault_secret_names    = module.aigateway.key_vault_secret_names
    ingress_allowed_ip_ranges = module.aigateway.ingress_allowed_ip_ranges
    workbook_url              = module.aigateway.workbook_url
  }
}
