resource "azurerm_log_analytics_workspace" "this" {
  name                = local.names.log_analytics
  location            = local.location
  resource_group_name = data.azurerm_resource_group.this.name
  sku                 = "PerGB2018"
  retention_in_days   = var.log_analytics_retention_days
  daily_quota_gb      = var.log_analytics_daily_quota_gb
  tags                = local.tags
}

# Workspace-based, in every environment: it runs the availability test (main.alerts.tf).
resource "azurerm_application_insights" "this" {
  name                = local.names.application_insights
  location            = local.location
  resource_group_name = data.azurerm_resource_group.this.name
  application_type    = "web"
  workspace_id        = azurerm_log_analytics_workspace.this.id
  tags                = local.tags
}

moved {
  from = azurerm_application_insights.this[0]
  to   = azurerm_application_insights.this
}

# The KQL of docs/operations.md, saved in the workspace (Logs > Queries > "PVC AI Gateway").
resource "azurerm_log_analytics_saved_search" "this" {
  for_each = local.saved_queries

  name                       = "aigateway-${each.key}"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id
  category                   = "PVC AI Gateway"
  display_name               = each.value.display_name
  query                      = file("${path.module}/queries/${each.value.file}")
  tags                       = local.tags
}

# ---------------------------------------------------------------------------------------------------
# Diagnostic settings into the environment's workspace. The deploy identity is Contributor on this resource
# group, which covers a diagnostic setting on anything in it (the bootstrap's vault included).
#
# NOT HERE: the shared image registry and the state account. They live in pvc-shared-aigateway-rg-san, where no
# deploy identity may write; scripts/bootstrap_shared.py (an Owner) gives them diagnostic settings into the
# shared layer's own audit workspace (docs/operations.md, "Audit").
# ---------------------------------------------------------------------------------------------------

# Key Vault audit: every secret read (who, from where, which secret) lands in AzureDiagnostics.
resource "azurerm_monitor_diagnostic_setting" "key_vault" {
  name                           = local.names.diagnostic_setting
  target_resource_id             = local.key_vault_id
  log_analytics_workspace_id     = azurerm_log_analytics_workspace.this.id
  log_analytics_destination_type = "AzureDiagnostics"

  enabled_log {
    category = "AuditEvent"
  }
}

# Container Apps environment: the platform's system events (replica starts, crashes, probe and revision
# provisioning failures) through Azure Monitor as well, into the resource-specific ContainerAppSystemLogs table.
# The gateway's console lines are not duplicated: they reach ContainerAppConsoleLogs_CL through the
# environment's log-analytics destination.
resource "azurerm_monitor_diagnostic_setting" "container_app_environment" {
  name                           = local.names.diagnostic_setting
  target_resource_id             = azurerm_container_app_environment.this.id
  log_analytics_workspace_id     = azurerm_log_analytics_workspace.this.id
  log_analytics_destination_type = "Dedicated"

  enabled_log {
    category = "ContainerAppSystemLogs"
  }
}
