# Log alerts on the gateway's one-JSON-line-per-request telemetry (ContainerAppConsoleLogs_CL.Log_s).
# What each means and what to do: docs/operations.md.

resource "azurerm_monitor_action_group" "this" {
  count = length(var.alert_email_addresses) > 0 ? 1 : 0

  name                = local.names.action_group
  resource_group_name = data.azurerm_resource_group.this.name
  short_name          = substr("aigw-${var.env}", 0, 12)
  tags                = local.tags

  dynamic "email_receiver" {
    for_each = var.alert_email_addresses
    content {
      name                    = "email-${email_receiver.key}"
      email_address           = email_receiver.value
      use_common_alert_schema = true
    }
  }
}

locals {
  alerts = {
    server_errors = {
      name        = local.names.alert_server_errors
      description = "More than ${var.alert_thresholds.server_error_percent}% of gateway requests answered 5xx in 15 minutes."
      severity    = 1
      file        = "alert-server-errors.kql"
      column      = "server_error_percent"
      threshold   = var.alert_thresholds.server_error_percent
    }
    upstream_failures = {
      name        = local.names.alert_upstream_failures
      description = "More than ${var.alert_thresholds.upstream_failures} requests failed because of Azure OpenAI (error_source == azure) in 15 minutes."
      severity    = 2
      file        = "alert-upstream-failures.kql"
      column      = "upstream_failures"
      threshold   = var.alert_thresholds.upstream_failures
    }
    throttled = {
      name        = local.names.alert_throttled
      description = "More than ${var.alert_thresholds.throttled_percent}% of gateway requests answered 429 in 15 minutes."
      severity    = 3
      file        = "alert-throttled.kql"
      column      = "throttled_percent"
      threshold   = var.alert_thresholds.throttled_percent
    }
  }
}

resource "azurerm_monitor_scheduled_query_rules_alert_v2" "this" {
  for_each = local.alerts

  name                 = each.value.name
  resource_group_name  = data.azurerm_resource_group.this.name
  location             = local.location
  description          = each.value.description
  severity             = each.value.severity
  scopes               = [azurerm_log_analytics_workspace.this.id]
  evaluation_frequency = "PT5M"
  window_duration      = "PT15M"
  # The table exists only after the first console line arrives; the query is valid from then on.
  skip_query_validation   = true
  auto_mitigation_enabled = true
  tags                    = local.tags

  criteria {
    query                   = file("${path.module}/queries/${each.value.file}")
    time_aggregation_method = "Maximum"
    metric_measure_column   = each.value.column
    operator                = "GreaterThan"
    threshold               = each.value.threshold

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  dynamic "action" {
    for_each = length(var.alert_email_addresses) > 0 ? [1] : []
    content {
      action_groups = [azurerm_monitor_action_group.this[0].id]
    }
  }
}
