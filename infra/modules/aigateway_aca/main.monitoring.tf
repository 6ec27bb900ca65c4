resource "azurerm_log_analytics_workspace" "this" {
  name                = local.names.log_analytics
  location            = local.location
  resource_group_name = data.azurerm_resource_group.this.name
  sku                 = "PerGB2018"
  retention_in_days   = var.log_analytics_retention_days
  daily_quota_gb      = var.log_analytics_daily_quota_gb
  tags                = local.tags
}

resource "azurerm_application_insights" "this" {
  count = var.application_insights_enabled ? 1 : 0

  name                = local.names.application_insights
  location            = local.location
  resource_group_name = data.azurerm_resource_group.this.name
  application_type    = "web"
  workspace_id        = azurerm_log_analytics_workspace.this.id
  tags                = local.tags
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
