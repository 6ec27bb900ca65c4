# Alerts that mean something at a dev tool's traffic: log alerts on the gateway's one-JSON-line-per-request
# telemetry (ContainerAppConsoleLogs_CL.Log_s) and on the platform's system events (ContainerAppSystemLogs_CL),
# plus the availability test's alert. Every one notifies the environment's action group. Thresholds, and what
# to do when each fires: docs/operations.md ("Alerts").

resource "azurerm_monitor_action_group" "this" {
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

moved {
  from = azurerm_monitor_action_group.this[0]
  to   = azurerm_monitor_action_group.this
}

# dev may run without receivers (the variable refuses an empty list in uat and prod); every plan says so.
check "alert_receivers" {
  assert {
    condition     = length(var.alert_email_addresses) > 0
    error_message = "WARNING: ${var.env} has no alert e-mail receivers: its alerts fire into ${local.names.action_group}, which notifies nobody (they still show under Monitor > Alerts). Set alert_email_addresses in infra/env/${var.env}/terraform.tfvars."
  }
}

locals {
  # Minimum counts live in the query files (where ... >= N), so the KQL in docs/operations.md is what runs.
  alerts = {
    server_errors = {
      name        = local.names.alert_server_errors
      description = "At least 3 requests answered 5xx and more than ${var.alert_thresholds.server_error_percent}% of all requests in 30 minutes."
      severity    = 1
      window      = "PT30M"
      file        = "alert-server-errors.kql"
      column      = "server_error_percent"
      threshold   = var.alert_thresholds.server_error_percent
    }
    upstream_failures = {
      name        = local.names.alert_upstream_failures
      description = "At least 3 requests failed because of Azure OpenAI (error_source == azure) and more than ${var.alert_thresholds.upstream_failure_percent}% of all requests in 30 minutes."
      severity    = 2
      window      = "PT30M"
      file        = "alert-upstream-failures.kql"
      column      = "upstream_failure_percent"
      threshold   = var.alert_thresholds.upstream_failure_percent
    }
    throttled = {
      name        = local.names.alert_throttled
      description = "At least 10 requests answered 429 and more than ${var.alert_thresholds.throttled_percent}% of all requests in 30 minutes."
      severity    = 3
      window      = "PT30M"
      file        = "alert-throttled.kql"
      column      = "throttled_percent"
      threshold   = var.alert_thresholds.throttled_percent
    }
    latency = {
      name        = local.names.alert_latency
      description = "p95 latency of successful non-streaming requests above ${var.alert_thresholds.latency_p95_ms} ms on a route (at least 5 requests in 30 minutes)."
      severity    = 3
      window      = "PT30M"
      file        = "alert-latency.kql"
      column      = "p95_latency_ms"
      threshold   = var.alert_thresholds.latency_p95_ms
    }
    ttfb = {
      name        = local.names.alert_ttfb
      description = "p95 time to first byte of successful streams above ${var.alert_thresholds.ttfb_p95_ms} ms on a route (at least 5 streams in 30 minutes)."
      severity    = 3
      window      = "PT30M"
      file        = "alert-ttfb.kql"
      column      = "p95_ttfb_ms"
      threshold   = var.alert_thresholds.ttfb_p95_ms
    }
    replica_failures = {
      name        = local.names.alert_replica_failures
      description = "More than ${var.alert_thresholds.replica_failure_events} replica crash, restart or revision provisioning failure events (ContainerAppSystemLogs_CL) in 15 minutes."
      severity    = 2
      window      = "PT15M"
      file        = "alert-replica-failures.kql"
      column      = "failure_events"
      threshold   = var.alert_thresholds.replica_failure_events
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
  window_duration      = each.value.window
  # The tables exist only after the first line arrives; the query is valid from then on.
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

  action {
    action_groups = [azurerm_monitor_action_group.this.id]
  }
}

# ---------------------------------------------------------------------------------------------------
# Availability: an App Insights standard test on /health/readiness from regions near the users, and its alert.
# ---------------------------------------------------------------------------------------------------

resource "azurerm_application_insights_standard_web_test" "readiness" {
  name                    = local.names.availability_test
  resource_group_name     = data.azurerm_resource_group.this.name
  location                = local.location
  application_insights_id = azurerm_application_insights.this.id
  description             = "GET ${local.readiness_url} must answer 200 (TLS checked)."
  geo_locations           = var.availability_test_locations
  frequency               = local.availability_test_frequency
  timeout                 = 30
  retry_enabled           = true
  enabled                 = true
  # Azure adds the hidden-link tag itself; declaring it keeps plans free of drift.
  tags = merge(local.tags, { "hidden-link:${azurerm_application_insights.this.id}" = "Resource" })

  request {
    url       = local.readiness_url
    http_verb = "GET"
  }

  validation_rules {
    expected_status_code        = 200
    ssl_check_enabled           = true
    ssl_cert_remaining_lifetime = 7
  }
}

resource "azurerm_monitor_metric_alert" "availability" {
  name                = local.names.alert_availability
  resource_group_name = data.azurerm_resource_group.this.name
  description         = "${local.readiness_url} failed from at least ${local.availability_failed_locations} test locations."
  severity            = 1
  frequency           = "PT1M"
  window_size         = "PT5M"
  scopes              = [azurerm_application_insights_standard_web_test.readiness.id, azurerm_application_insights.this.id]
  auto_mitigate       = true
  tags                = local.tags

  application_insights_web_test_location_availability_criteria {
    web_test_id           = azurerm_application_insights_standard_web_test.readiness.id
    component_id          = azurerm_application_insights.this.id
    failed_location_count = local.availability_failed_locations
  }

  action {
    action_group_id = azurerm_monitor_action_group.this.id
  }
}
