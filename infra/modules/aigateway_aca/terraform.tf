terraform {
  required_version = ">= 1.11, < 2.0"

  required_providers {
    # One provider only: every extra provider (time, random, azapi) would need its own offline schema
    # to be validated here, so RBAC propagation is absorbed by the two-phase first apply instead of a
    # time_sleep (see README.md, "RBAC propagation").
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 5.0, < 6.0"
    }
  }
}
